// Command docgen writes zkfc's manual page and bash completion from the
// --help output of a built zkfc binary, so that both say what the binary
// does and cannot drift from it. make deb runs it.
//
//	go run ./zkfc/packaging/docgen -bin bin/zkfc -version 1.2.3 -date 2026-12-02 \
//	    -man zkfc.1 -bash-completion zkfc.bash
//
// It never edits the help texts: a command the binary lists is documented
// from that command's own --help, or docgen fails.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// command is one subcommand as the binary describes it.
type command struct {
	name, summary string
	help          string // the full output of zkfc NAME --help
	flags         []flagSpec
}

// flagSpec is one flag from a "Flags:" block printed by pflag.
type flagSpec struct {
	short, long string
	valueType   string // "" for a boolean flag
	file        bool   // the value names a file or directory
}

func main() {
	bin := flag.String("bin", "bin/zkfc", "the zkfc binary to document")
	version := flag.String("version", "", "version printed in the page footer (required)")
	date := flag.String("date", "", "date of the page, YYYY-MM-DD (required)")
	man := flag.String("man", "", "write the manual page (roff) here")
	comp := flag.String("bash-completion", "", "write the bash completion script here")
	flag.Parse()
	if *version == "" || *date == "" || (*man == "" && *comp == "") {
		fmt.Fprintln(os.Stderr, "docgen: -version, -date and at least one of -man, -bash-completion are required")
		os.Exit(2)
	}
	top, cmds, err := describe(*bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
		os.Exit(1)
	}
	if *man != "" {
		if err := os.WriteFile(*man, []byte(manPage(top, cmds, *version, *date)), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
			os.Exit(1)
		}
	}
	if *comp != "" {
		if err := os.WriteFile(*comp, []byte(bashCompletion(cmds)), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
			os.Exit(1)
		}
	}
}

// help runs bin with args and returns what it printed; --help prints to
// stderr and exits 0.
func help(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	// The defaults a help text shows must not depend on who builds it.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

var commandLine = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\s+(.+)$`)

// describe reads the top-level help and every command's help.
func describe(bin string) (string, []command, error) {
	top, err := help(bin, "--help")
	if err != nil {
		return "", nil, err
	}
	var cmds []command
	in := false
	for _, line := range strings.Split(top, "\n") {
		switch {
		case line == "Commands:":
			in = true
		case in && line == "":
			in = false
		case in:
			m := commandLine.FindStringSubmatch(line)
			if m == nil {
				return "", nil, fmt.Errorf("%s --help: cannot read command line %q", bin, line)
			}
			cmds = append(cmds, command{name: m[1], summary: m[2]})
		}
	}
	if len(cmds) == 0 {
		return "", nil, fmt.Errorf("%s --help lists no commands", bin)
	}
	for i := range cmds {
		h, err := help(bin, cmds[i].name, "--help")
		if err != nil {
			return "", nil, err
		}
		// A command without flags still prints the heading.
		cmds[i].help = strings.TrimSuffix(strings.TrimRight(h, "\n"), "\nFlags:")
		cmds[i].flags = parseFlags(h)
	}
	return top, cmds, nil
}

// flagLine matches pflag's usage lines: "  -c, --config string   text" or
// "      --check[=true|false]   text".
var flagLine = regexp.MustCompile(`^\s+(?:-([A-Za-z0-9]), )?--([A-Za-z0-9][A-Za-z0-9._-]*)(\[=[^\]]*\])?(?: ([a-zA-Z0-9]+))?\s`)

// fileFlag recognises, in a flag's usage text, a value naming a file.
var fileFlag = regexp.MustCompile(`\b(file|directory|dir|zoo\.cfg|hdfs-site\.xml|core-site\.xml)\b`)

func parseFlags(h string) []flagSpec {
	var out []flagSpec
	_, block, ok := strings.Cut(h, "\nFlags:\n")
	if !ok {
		return nil
	}
	for _, line := range strings.Split(block, "\n") {
		m := flagLine.FindStringSubmatch(line + " ")
		if m == nil {
			continue
		}
		f := flagSpec{short: m[1], long: m[2]}
		if m[3] == "" { // [=true|false] marks a boolean
			f.valueType = m[4]
			f.file = fileFlag.MatchString(line)
		}
		out = append(out, f)
	}
	return out
}

// roffText escapes a line of text for roff: backslashes, hyphens (which
// roff would otherwise set as typographic hyphens, breaking copied
// options) and a leading control character.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

var heading = regexp.MustCompile(`^[A-Z][A-Za-z ]*:$`)

// roffBody turns a help text into roff: indented lines keep their layout
// (examples, flag tables), other lines are filled, blank lines separate
// paragraphs and a line like "Examples:" becomes a bold label.
func roffBody(text string) string {
	var b strings.Builder
	pre, para := false, false
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line == "" {
			para = true
			continue
		}
		indented := strings.HasPrefix(line, " ")
		if pre && (!indented || para) {
			b.WriteString(".fi\n.RE\n")
			pre = false
		}
		if para || (indented && !pre) {
			b.WriteString(".PP\n")
			para = false
		}
		switch {
		case indented && !pre:
			b.WriteString(".RS 2\n.nf\n")
			pre = true
			b.WriteString(roffText(line) + "\n")
		case !indented && heading.MatchString(line):
			b.WriteString("\\fB" + roffText(line) + "\\fR\n")
		default:
			b.WriteString(roffText(line) + "\n")
		}
	}
	if pre {
		b.WriteString(".fi\n.RE\n")
	}
	return b.String()
}

func manPage(top string, cmds []command, version, date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" Generated by zkfc/packaging/docgen from the output of zkfc --help; do not edit.\n")
	fmt.Fprintf(&b, ".TH ZKFC 1 %q %q \"zkfc manual\"\n", date, "zkfc "+version)
	b.WriteString(".SH NAME\nzkfc \\- failover controller with an embedded ZooKeeper\\-compatible quorum\n")
	b.WriteString(".SH SYNOPSIS\n.B zkfc\n.I command\n.RI [ flags ]\n")
	b.WriteString(".SH DESCRIPTION\n")
	intro, _, _ := strings.Cut(top, "\nUsage:")
	b.WriteString(roffText(strings.TrimSpace(strings.TrimPrefix(intro, "zkfc: "))) + "\n")
	b.WriteString(".PP\nOne binary holds every command; each has its own flags, which\n\\fBzkfc\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR prints:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffText(c.name), roffText(c.summary))
	}
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".SS %s\n", roffText(c.name))
		b.WriteString(roffBody(c.help))
	}
	b.WriteString(".SH FILES\n")
	for _, f := range [][2]string{
		{"/etc/zkfc/zkfc.yaml", "configuration of zkfc.service (zkfc run)"},
		{"/etc/zkfc/quorum.yaml", "configuration of zkfc\\-quorum.service"},
		{"/var/lib/zkfc", "the embedded quorum's data and the zkfc user's home"},
		{"/usr/share/zkfc/zkfc-bound-service.conf", "systemd drop\\-in binding a guarded service to zkfc.service"},
	} {
		fmt.Fprintf(&b, ".TP\n.I %s\n%s\n", roffText(f[0]), f[1])
	}
	b.WriteString(".SH SEE ALSO\n.BR systemctl (1),\n.I /usr/share/doc/zkfc/README.md\n")
	return b.String()
}

func bashCompletion(cmds []command) string {
	var b strings.Builder
	b.WriteString("# bash completion for zkfc; generated by zkfc/packaging/docgen from zkfc's --help.\n")
	b.WriteString("_zkfc() {\n")
	b.WriteString("    local cur prev words cword\n")
	b.WriteString("    _init_completion || return\n")
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	fmt.Fprintf(&b, "    if [[ $cword -eq 1 ]]; then\n        COMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n        return\n    fi\n", strings.Join(names, " "))
	b.WriteString("    local flags='' values='' files=''\n    case ${words[1]} in\n")
	for _, c := range cmds {
		var all, values, files []string
		for _, f := range c.flags {
			names := []string{"--" + f.long}
			if f.short != "" {
				names = append(names, "-"+f.short)
			}
			all = append(all, names...)
			// Values other than files (node ids, durations, URLs) have
			// nothing to complete; offering file names would mislead.
			if f.valueType != "" {
				values = append(values, names...)
			}
			if f.file {
				files = append(files, names...)
			}
		}
		fmt.Fprintf(&b, "        %s) flags='%s' values='%s' files='%s' ;;\n", c.name, strings.Join(all, " "), strings.Join(values, " "), strings.Join(files, " "))
	}
	b.WriteString("    esac\n")
	b.WriteString("    if [[ \" $files \" == *\" $prev \"* ]]; then\n        _filedir\n        return\n    fi\n")
	b.WriteString("    if [[ \" $values \" == *\" $prev \"* ]]; then\n        return\n    fi\n")
	b.WriteString("    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n}\ncomplete -F _zkfc zkfc\n")
	return b.String()
}
