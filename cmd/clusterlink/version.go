package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/clusterlink/clusterlink/controlplane/daemon"
)

// version, commit and date are stamped at build time by `make build`, `make release` and the Dockerfile:
// -ldflags "-X main.version=v0.1.0 -X main.commit=<sha> -X main.date=<RFC 3339>". Without them, the commit and
// date come from the VCS information the go command records when it builds inside a git checkout.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// buildInfo is what this binary knows of its own build.
func buildInfo() daemon.BuildInfo {
	b := daemon.BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.Date == "":
				b.Date = s.Value
			case s.Key == "vcs.modified" && s.Value == "true" && commit == "" && b.Commit != "":
				b.Commit += "-dirty"
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and build date",
		Example: "  clusterlink version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			b := buildInfo()
			fmt.Fprintf(cmd.OutOrStdout(), "clusterlink %s\ncommit: %s\nbuilt: %s\ngo: %s %s/%s\n",
				b.Version, b.Commit, b.Date, b.GoVersion, runtime.GOOS, runtime.GOARCH)
		},
	}
}
