// Command clusterlink is the cluster-linking daemon for Apache Kafka and the CLI that drives it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "clusterlink",
		Short: "Offset-exact cluster linking for Apache Kafka",
		Long: `clusterlink links a source Kafka cluster to a destination cluster: every partition of a source topic is
copied into a read-only mirror topic on the destination at the same offsets, as the same record batches.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var f clientFlags
	f.register(root)
	root.PersistentPreRunE = f.check
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newRunCommand(), newDemoCommand(), newVersionCommand(),
		newLinkCommand(&f), newMirrorCommand(&f), newACLCommand(&f), newDaemonCommand(&f))
	return root
}

// parent makes cmd a command that only groups others: alone (or with --help) it prints its help; with anything else
// it fails with "unknown command" and the subcommands that are near, as cobra does for the root, instead of printing
// the help and exiting 0. Its flags are not parsed, so that a misspelt subcommand is reported as one, not as an
// unknown flag of the parent.
func parent(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.DisableFlagParsing = true
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var words, unknown []string
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "-h" || a == "--help" {
				return cmd.Help()
			}
			name, isFlag := strings.CutPrefix(strings.TrimPrefix(a, "-"), "-")
			if !strings.HasPrefix(a, "-") {
				if len(unknown) > 0 {
					break // the value of an unknown flag, or after it: the flag is the error
				}
				words = append(words, a)
				continue
			}
			name, _, _ = strings.Cut(name, "=")
			switch fl := lookupFlag(cmd, name, isFlag); {
			case fl == nil:
				if len(words) == 0 {
					unknown = append(unknown, a)
				}
			case fl.NoOptDefVal == "" && !strings.Contains(a, "="):
				i++ // a flag that takes a value: skip the value (--address host:port)
			}
		}
		switch {
		case len(words) > 0:
			msg := fmt.Sprintf("unknown command %q for %q", words[0], cmd.CommandPath())
			if near := cmd.SuggestionsFor(words[0]); len(near) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
			}
			return fmt.Errorf("%s\n\nRun '%s --help' for its commands", msg, cmd.CommandPath())
		case len(unknown) > 0:
			return fmt.Errorf("unknown flag %s for %q, which needs a command first: run '%s --help' for its commands",
				unknown[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	}
	return cmd
}

// lookupFlag finds a flag of cmd (its own or inherited) by long name, or by shorthand when long is false.
func lookupFlag(cmd *cobra.Command, name string, long bool) *pflag.Flag {
	for _, set := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
		if long {
			if fl := set.Lookup(name); fl != nil {
				return fl
			}
		} else if fl := set.ShorthandLookup(name); fl != nil && len(name) == 1 {
			return fl
		}
	}
	return nil
}

// flagError adds the flags that are near an unknown one ("did you mean --link?") to cobra's error.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		if strings.HasPrefix(msg, "unknown shorthand flag: ") {
			return fmt.Errorf("%s\n\nRun '%s --help' for its flags", msg, cmd.CommandPath())
		}
		return err
	}
	var near []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (levenshtein(name, f.Name) <= 2 || strings.HasPrefix(f.Name, name)) {
			near = append(near, "--"+f.Name)
		}
	})
	if len(near) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
	}
	return fmt.Errorf("%s\n\nRun '%s --help' for its flags", msg, cmd.CommandPath())
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
