// Command clusterlink is the cluster-linking daemon for Apache Kafka and the CLI that drives it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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
	root.AddCommand(newRunCommand(), newDemoCommand(), newVersionCommand(),
		newLinkCommand(&f), newMirrorCommand(&f), newACLCommand(&f))
	return root
}
