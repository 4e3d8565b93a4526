package main

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at link time by the Makefile
// (-X main.version=... -X main.commit=...); a plain `go build` falls back
// to the VCS stamp Go records, if any.
var (
	version = "dev"
	commit  = ""
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the vmm version, git commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rev, dirty := commit, ""
			if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						rev = s.Value
					case "vcs.modified":
						if s.Value == "true" {
							dirty = " (modified)"
						}
					}
				}
			}
			if rev == "" {
				rev = "unknown"
			}
			printf("vmm %s\ncommit %s%s\n%s %s/%s\n", version, rev, dirty, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
