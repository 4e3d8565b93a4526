package main

import (
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// globalFlags are the flags every subcommand shares.
type globalFlags struct {
	logLevel  string
	logFormat string
}

func newRootCommand() *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "vmm",
		Short: "A userspace KVM virtual machine monitor",
		Long: "vmm boots guest kernels on KVM with a serial console and virtio block devices.\n\n" +
			"Start with `vmm check` to see whether this host can run VMs.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupLogging(g)
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err}
	})
	root.SetOut(stdout())
	root.AddCommand(newVersionCommand(), newCheckCommand(), newRunCommand())
	return root
}

// setupLogging configures logrus from the global flags. Logs go to stderr so
// they never mix with the guest console on stdout.
func setupLogging(g globalFlags) error {
	lvl, err := logrus.ParseLevel(g.logLevel)
	if err != nil || (lvl != logrus.DebugLevel && lvl != logrus.InfoLevel && lvl != logrus.WarnLevel && lvl != logrus.ErrorLevel) {
		return usagef("--log-level %q is not a level: use debug, info, warn or error", g.logLevel)
	}
	logrus.SetLevel(lvl)
	logrus.SetOutput(os.Stderr)
	// Nanosecond timestamps: boot steps take milliseconds, and the bench
	// (scripts/bench) reads when the first KVM_RUN happened from them.
	switch g.logFormat {
	case "text":
		logrus.SetFormatter(&logrus.TextFormatter{DisableColors: !term.IsTerminal(int(os.Stderr.Fd())), TimestampFormat: time.RFC3339Nano})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	default:
		return usagef("--log-format %q is not a format: use text or json", g.logFormat)
	}
	return nil
}

// stdout is where commands print their results; tests replace it.
var stdout = func() *os.File { return os.Stdout }

func printf(format string, args ...any) { fmt.Fprintf(stdout(), format, args...) }
