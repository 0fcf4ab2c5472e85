package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zkfc-project/zkfc/zkfc/config"
	"github.com/zkfc-project/zkfc/zkfc/elector"
)

// configFlags are the flags every config-reading subcommand accepts: the
// file, and overrides of the most used keys (flag name = config key).
type configFlags struct {
	fs   *pflag.FlagSet
	path string
	// tokenFile is --token-file of the commands that call a control API
	// (see addAPIFlags): it wins over control.token_file.
	tokenFile string
}

func newFlagSet(name, usage string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, usage)
		fmt.Fprintf(os.Stderr, "\nFlags:\n%s", fs.FlagUsages())
	}
	return fs
}

func addConfigFlags(fs *pflag.FlagSet) *configFlags {
	cf := &configFlags{fs: fs}
	fs.StringVarP(&cf.path, "config", "c", envOr("ZKFC_CONFIG", "/etc/zkfc/zkfc.yaml"), "YAML configuration file (env ZKFC_CONFIG)")
	fs.String("node.id", "", "override node.id (env ZKFC_NODE_ID)")
	fs.String("cluster.name", "", "override cluster.name")
	fs.String("zookeeper.connect", "", "override zookeeper.connect, e.g. 127.0.0.1:2181")
	fs.String("control.listen", "", "override control.listen, e.g. 127.0.0.1:8019")
	fs.String("log.level", "", "override log.level: debug, info, warn, error")
	return cf
}

// addAPIFlags adds --url and --token-file to a command that calls a
// control API; what says which API --url names.
func addAPIFlags(fs *pflag.FlagSet, cf *configFlags, what string) *string {
	url := fs.String("url", "", what+" (default: from the config)")
	fs.StringVar(&cf.tokenFile, "token-file", "", "file holding the control API's bearer token (default: control.token_file of the config)")
	return url
}

// explicit: the configuration file was chosen (-c or ZKFC_CONFIG), not
// taken by default.
func (cf *configFlags) explicit() bool {
	return (cf.fs != nil && cf.fs.Changed("config")) || os.Getenv("ZKFC_CONFIG") != ""
}

func (cf *configFlags) load() (*config.Config, error) {
	path := cf.path
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("config file %s: %w (pass --config or set ZKFC_CONFIG)", path, err)
	}
	return config.Load(path, os.Environ(), cf.fs)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func newLogger(c config.Log) (*zap.Logger, error) {
	var zc zap.Config
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "ts"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	}
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level %q: %w", c.Level, err)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.DisableStacktrace = true
	return zc.Build()
}

// loadWithLogger is the start of every command that acts on the cluster:
// the configuration, its secrets, and the logger its log section asks for.
func loadWithLogger(cf *configFlags) (*config.Config, config.Secrets, *zap.Logger, error) {
	cfg, sec, err := loadWithSecrets(cf)
	if err != nil {
		return nil, config.Secrets{}, nil, err
	}
	lg, err := newLogger(cfg.Log)
	if err != nil {
		return nil, config.Secrets{}, nil, err
	}
	return cfg, sec, lg, nil
}

// loadForZooKeeper is the start of the commands that work on the cluster's
// znodes themselves (format, fence-test): loadWithLogger, then the
// elector's view of ZooKeeper from the same configuration.
func loadForZooKeeper(cf *configFlags) (*config.Config, config.Secrets, elector.Config, *zap.Logger, error) {
	cfg, sec, lg, err := loadWithLogger(cf)
	if err != nil {
		return nil, config.Secrets{}, elector.Config{}, nil, err
	}
	ec, err := electorConfig(cfg, sec)
	if err != nil {
		return nil, config.Secrets{}, elector.Config{}, nil, err
	}
	return cfg, sec, ec, lg, nil
}

// controlURL picks the API a CLI command talks to: --url, else the
// configuration's advertised control URL.
func controlURL(flagURL string, cf *configFlags) (string, error) {
	if flagURL != "" {
		return strings.TrimRight(flagURL, "/"), nil
	}
	c, err := cf.load()
	if err != nil {
		return "", fmt.Errorf("%w\n(or pass --url http://HOST:PORT of a running zkfc)", err)
	}
	return c.AdvertisedControlURL(), nil
}

func servers(c *config.Config) []string {
	return strings.Split(c.ZooKeeper.Connect, ",")
}

func cliContext(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "zkfc: "+format+"\n", args...)
	return 1
}

// parseFlags parses args; it returns (exit code, done) when --help was
// asked or parsing failed.
func parseFlags(fs *pflag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return 0, true
		}
		fmt.Fprintf(os.Stderr, "zkfc %s: %v\n", fs.Name(), err)
		return 2, true
	}
	return 0, false
}
