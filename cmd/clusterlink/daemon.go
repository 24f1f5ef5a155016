package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newDaemonCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:     "daemon",
		Short:   "Show the daemons sharing a link",
		Example: "  clusterlink daemon list --link my-link",
	})
	var link string
	list := &cobra.Command{
		Use:   "list --link LINK",
		Short: "List the daemons sharing a link (its group on the destination): members, their partitions, the generation",
		Long: `list shows the group of the daemons that run a link (every daemon with the same destination, state topic and
link joins it): each member, how many mirror partitions it copies and which, which one runs the link's loops, and
the group's generation (every change of ownership starts a new one). It is the answering daemon's view.`,
		Example: "  clusterlink daemon list --link my-link\n  clusterlink daemon list --link my-link -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			g, err := f.client().LinkDaemons(ctx, link)
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), g, func() error {
				w := cmd.OutOrStdout()
				stable := "stable"
				if !g.Stable {
					stable = "rebalancing"
				}
				fmt.Fprintf(w, "Group %s, generation %d (%s), %d members\n", g.GroupID, g.Generation, stable, len(g.Members))
				t := table{header: []string{"Member", "Name", "Leader", "Link Loops", "Partitions", "Mirror Partitions"}}
				for _, m := range g.Members {
					var parts []string
					for _, mp := range m.Mirrors {
						parts = append(parts, fmt.Sprintf("%s%v", mp.MirrorTopicName, mp.Partitions))
					}
					leader, loops := "", ""
					if m.MemberID == g.LeaderID {
						leader = "yes"
					}
					if m.RunsLinkLoops {
						loops = "yes"
					}
					name := m.Name
					if m.MemberID == g.MemberID {
						name += " (this)"
					}
					t.add(m.MemberID, name, leader, loops, m.PartitionCount, strings.Join(parts, " "))
				}
				return t.write(w)
			})
		},
	}
	list.Flags().StringVar(&link, "link", "", "the link (required)")
	_ = list.MarkFlagRequired("link")
	cmd.AddCommand(list)
	return cmd
}
