package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/magiconair/properties"
	"github.com/spf13/cobra"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

func newLinkCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "List, describe, create and delete cluster links",
		Example: `  clusterlink link list
  clusterlink link describe my-link
  clusterlink link create my-link --config-file link.properties`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newLinkListCommand(f), newLinkDescribeCommand(f), newLinkCreateCommand(f), newLinkDeleteCommand(f),
		newLinkConfigurationCommand(f))
	return cmd
}

func newLinkListCommand(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the daemon's cluster links",
		Example: "  clusterlink link list\n  clusterlink link list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkOutput(); err != nil {
				return err
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			links, err := f.client().Links(ctx)
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), links, func() error {
				// Confluent's columns, then the tasks in error: a link can be ACTIVE and copy while a loop of it
				// (ACL sync without an authorizer, say) fails, and link describe shows why.
				t := table{header: []string{"Link Name", "Source Cluster", "Destination Cluster", "State", "Error", "Error Message", "Tasks In Error"}}
				for _, l := range links {
					t.add(l.LinkName, l.SourceClusterID, l.DestinationClusterID, l.LinkState, l.LinkError, l.LinkErrorMessage, tasksInError(l.Tasks))
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	}
}

// tasksInError names the tasks IN_ERROR with their codes, "AclSync(AUTHORIZATION_ERROR)", or "-" for none.
func tasksInError(tasks []adminapi.Task) string {
	var out []string
	for _, t := range tasks {
		if t.State != "IN_ERROR" {
			continue
		}
		var codes []string
		for _, e := range t.Errors {
			codes = append(codes, e.ErrorCode)
		}
		out = append(out, t.TaskName+"("+strings.Join(codes, ",")+")")
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func printConfigs(cmd *cobra.Command, f *clientFlags, configs []adminapi.Config, tasks []adminapi.Task) error {
	sort.Slice(configs, func(i, j int) bool { return configs[i].Name < configs[j].Name })
	return f.print(cmd.OutOrStdout(), configs, func() error {
		t := table{header: []string{"Config Name", "Config Value", "Read Only", "Sensitive", "Source", "Synonyms"}}
		for _, c := range configs {
			t.add(c.Name, c.Value, c.ReadOnly, c.Sensitive, c.Source, "["+strings.Join(c.Synonyms, ", ")+"]")
		}
		if err := t.write(cmd.OutOrStdout()); err != nil {
			return err
		}
		for _, task := range tasks {
			for _, e := range task.Errors {
				fmt.Fprintf(cmd.OutOrStdout(), "task %s is %s: %s: %s\n", task.TaskName, task.State, e.ErrorCode, e.ErrorMessage)
			}
		}
		return nil
	})
}

func newLinkDescribeCommand(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "describe LINK",
		Short:   "Show a link's configs, and its tasks in error",
		Example: "  clusterlink link describe my-link",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.checkOutput(); err != nil {
				return err
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			link, err := f.client().Link(ctx, args[0])
			if err != nil {
				return err
			}
			configs, err := f.client().LinkConfigs(ctx, args[0])
			if err != nil {
				return err
			}
			return printConfigs(cmd, f, configs, link.Tasks)
		},
	}
}

// configFlags are the ways a command takes link configs: a properties file and repeated k=v.
type configFlags struct {
	file   string
	values []string
}

func (c *configFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.file, "config-file", "", "a properties file of link configs (key=value lines, # comments)")
	// Not split on commas: filter JSON and JAAS values hold commas.
	cmd.Flags().StringArrayVar(&c.values, "config", nil, "a link config as key=value (repeat the flag for more)")
}

// collect merges the file and the flags (flags win) in file order.
func (c *configFlags) collect() ([]adminapi.ConfigValue, error) {
	values := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := values[k]; !ok {
			order = append(order, k)
		}
		values[k] = v
	}
	if c.file != "" {
		props, err := readProperties(c.file)
		if err != nil {
			return nil, err
		}
		for _, kv := range props {
			set(kv[0], kv[1])
		}
	}
	for i, kv := range c.values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			// The value is not quoted: it may be a secret.
			return nil, fmt.Errorf("--config number %d is not key=value", i+1)
		}
		set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	out := make([]adminapi.ConfigValue, 0, len(order))
	for _, k := range order {
		out = append(out, adminapi.ConfigValue{Name: k, Value: values[k]})
	}
	return out, nil
}

// readProperties reads a Java properties file with a well-kept parser (every escape of java.util.Properties:
// \uXXXX, \=, \:, line continuations), in file order, with no ${...} expansion: values go to the daemon as they are
// written. Its errors name the line, never its content (a line may hold a password).
func readProperties(path string) ([][2]string, error) {
	l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the config file %s: %w", path, err)
	}
	var out [][2]string
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func newLinkCreateCommand(f *clientFlags) *cobra.Command {
	var cf configFlags
	var sourceBootstrap string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "create LINK",
		Short: "Create a cluster link from a source cluster to the daemon's destination",
		Long: `create makes a new link with Confluent Cluster Linking's configs. The daemon validates every config and reports
every problem at once; with --dry-run nothing is created. Secrets are sent as values: ${env:...} and ${file:...}
references are only allowed in the daemon's own config file.`,
		Example: `  clusterlink link create my-link --source-bootstrap-server src-1:9092 \
      --config auto.create.mirror.topics.enable=true \
      --config 'auto.create.mirror.topics.filters={"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}'
  clusterlink link create my-link --config-file link.properties --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			configs, err := cf.collect()
			if err != nil {
				return err
			}
			if sourceBootstrap != "" {
				configs = append(configs, adminapi.ConfigValue{Name: "bootstrap.servers", Value: sourceBootstrap})
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			if err := f.client().CreateLink(ctx, args[0], adminapi.CreateLinkRequest{Configs: configs}, dryRun); err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "Link %q is valid (dry run: not created).\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Created cluster link %q.\n", args[0])
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&sourceBootstrap, "source-bootstrap-server", "", "the source cluster's bootstrap.servers")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate only")
	return cmd
}

func newLinkDeleteCommand(f *clientFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete LINK",
		Short: "Delete a cluster link created through the API",
		Long: `delete stops a link and forgets it. Without --force it refuses while a mirror topic of the link is not STOPPED
(promote or fail them over first). Mirror topics stay on the destination as they are.`,
		Example: "  clusterlink link delete my-link\n  clusterlink link delete my-link --force",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			if err := f.client().DeleteLink(ctx, args[0], force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted cluster link %q.\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even if mirror topics are still mirroring")
	return cmd
}

func newLinkConfigurationCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "configuration",
		Short:   "List or update a link's configs",
		Example: "  clusterlink link configuration list my-link\n  clusterlink link configuration update my-link --config consumer.offset.sync.ms=10000",
		Args:    cobra.NoArgs,
	}
	list := &cobra.Command{
		Use:     "list LINK",
		Short:   "List a link's configs",
		Example: "  clusterlink link configuration list my-link",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.checkOutput(); err != nil {
				return err
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			configs, err := f.client().LinkConfigs(ctx, args[0])
			if err != nil {
				return err
			}
			return printConfigs(cmd, f, configs, nil)
		},
	}
	var cf configFlags
	var reset []string
	var dryRun bool
	update := &cobra.Command{
		Use:   "update LINK",
		Short: "Change a link's configs (sync loops and intervals live; others restart the link, which resumes where it was)",
		Example: `  clusterlink link configuration update my-link --config consumer.offset.sync.ms=10000
  clusterlink link configuration update my-link --reset acl.sync.ms --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			configs, err := cf.collect()
			if err != nil {
				return err
			}
			for _, k := range reset {
				configs = append(configs, adminapi.ConfigValue{Name: k, Operation: "DELETE"})
			}
			if len(configs) == 0 {
				return fmt.Errorf("nothing to update: give --config, --config-file or --reset")
			}
			ctx, cancel := requestContext(cmd)
			defer cancel()
			if err := f.client().AlterLinkConfigs(ctx, args[0], adminapi.AlterConfigsRequest{Data: configs}, dryRun); err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "The configs of link %q are valid (dry run: not changed).\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Updated the configs of link %q.\n", args[0])
			}
			return nil
		},
	}
	cf.register(update)
	update.Flags().StringSliceVar(&reset, "reset", nil, "configs to set back to their defaults")
	update.Flags().BoolVar(&dryRun, "dry-run", false, "validate only")
	cmd.AddCommand(list, update)
	return cmd
}
