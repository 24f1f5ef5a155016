package main

import (
	"github.com/spf13/cobra"
)

func newACLCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:     "acl",
		Short:   "Show the destination ACLs the links manage",
		Example: "  clusterlink acl list\n  clusterlink acl list --link my-link",
	})
	var link string
	list := &cobra.Command{
		Use:     "list [--link LINK]",
		Short:   "List the destination ACLs the links created (ACL sync) and the read-only guards of their mirror topics",
		Example: "  clusterlink acl list\n  clusterlink acl list --link my-link -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			acls, err := f.client().LinkACLs(ctx, link)
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), acls, func() error {
				t := table{header: []string{"Link Name", "Principal", "Permission", "Operation", "Resource Type", "Resource Name", "Pattern Type", "Reason"}}
				for _, a := range acls {
					t.add(a.LinkName, a.Principal, a.Permission, a.Operation, a.ResourceType, a.ResourceName, a.PatternType, a.Reason)
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	}
	list.Flags().StringVar(&link, "link", "", "only this link's ACLs (default: every link's)")
	cmd.AddCommand(list)
	return cmd
}
