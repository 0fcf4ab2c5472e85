# Sourced by the examples' shell fencing methods (examples/*/fence.sh).
#
# kill_listeners PORT TRIES: kills (SIGKILL) every process with PORT open
# until nothing listens on it, checking every 0.1 s at most TRIES times.
# Exits the script: 0 once nothing listens (the old service cannot serve
# any more), 1 if a listener is still there, which zkfc counts as a failed
# fence.
kill_listeners() {
	_port=$1 _tries=$2 _i=0
	while [ "$_i" -lt "$_tries" ]; do
		fuser -s -k -KILL -n tcp "$_port" 2>/dev/null
		if [ -z "$(ss -Hltn "sport = :$_port")" ]; then
			echo "fence.sh: nothing listens on port $_port any more"
			exit 0
		fi
		_i=$((_i + 1))
		sleep 0.1
	done
	echo "fence.sh: port $_port still has a listener" >&2
	exit 1
}
