package main

import (
	"github.com/spf13/cobra"
)

func newACLCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "acl",
		Short:   "Show the destination ACLs a link manages",
		Example: "  clusterlink acl list --link my-link",
		Args:    cobra.NoArgs,
	}
	var link string
	list := &cobra.Command{
		Use:     "list --link LINK",
		Short:   "List the destination ACLs a link created (ACL sync) and the read-only guards of its mirror topics",
		Example: "  clusterlink acl list --link my-link\n  clusterlink acl list --link my-link -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkOutput(); err != nil {
				return err
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			acls, err := f.client().LinkACLs(ctx, link)
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), acls, func() error {
				t := table{header: []string{"Principal", "Permission", "Operation", "Resource Type", "Resource Name", "Pattern Type"}}
				for _, a := range acls {
					t.add(a.Principal, a.Permission, a.Operation, a.ResourceType, a.ResourceName, a.PatternType)
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	}
	list.Flags().StringVar(&link, "link", "", "the link (required)")
	_ = list.MarkFlagRequired("link")
	cmd.AddCommand(list)
	return cmd
}
