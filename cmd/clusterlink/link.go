package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/magiconair/properties"
	"github.com/spf13/cobra"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

func newLinkCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:   "link",
		Short: "List, describe, create and delete cluster links",
		Example: `  clusterlink link list
  clusterlink link describe my-link
  clusterlink link create my-link --source-bootstrap-server src-1:9092 --config link.properties`,
	})
	cmd.AddCommand(newLinkListCommand(f), newLinkDescribeCommand(f), newLinkCreateCommand(f), newLinkDeleteCommand(f),
		newLinkConfigurationCommand(f), newLinkTaskCommand(f))
	return cmd
}

func newLinkListCommand(f *clientFlags) *cobra.Command {
	var includeTopics bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the daemon's cluster links",
		Example: "  clusterlink link list\n  clusterlink link list --include-topics -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			links, err := f.client().Links(ctx)
			if err != nil {
				return err
			}
			var out []linkOut
			for _, l := range links {
				if !includeTopics {
					out = append(out, newLinkOut(l, ""))
				}
				for _, topic := range l.TopicNames {
					if includeTopics {
						out = append(out, newLinkOut(l, topic))
					}
				}
			}
			return f.print(cmd.OutOrStdout(), orEmpty(out), func() error {
				// Confluent's columns, then the tasks in error: a link can be ACTIVE and copy while a loop of it
				// (ACL sync without an authorizer, say) fails, and link describe shows why.
				header := []string{"Link Name", "Source Cluster", "Destination Cluster", "State", "Error", "Error Message", "Tasks In Error"}
				if includeTopics {
					header = slices.Insert(header, 1, "Topic Name")
				}
				t := table{header: header}
				for _, l := range out {
					row := []any{l.Name, l.SourceCluster, l.DestinationCluster, l.State, l.Error, l.ErrorMessage, l.TasksInError}
					if includeTopics {
						row = slices.Insert(row, 1, any(l.TopicName))
					}
					t.add(row...)
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().BoolVar(&includeTopics, "include-topics", false, "list the links' mirror topics, one row each")
	return cmd
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// tasksInError names the tasks IN_ERROR with their codes, "AclSync(AUTHORIZATION_ERROR)", or "" for none.
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
	return strings.Join(out, ",")
}

func printConfigs(cmd *cobra.Command, f *clientFlags, configs []adminapi.Config, tasks []adminapi.Task) error {
	sort.Slice(configs, func(i, j int) bool { return configs[i].Name < configs[j].Name })
	out := []linkConfigOut{}
	for _, c := range configs {
		out = append(out, linkConfigOut{ConfigName: c.Name, ConfigValue: c.Value, ReadOnly: c.ReadOnly, Sensitive: c.Sensitive,
			Source: c.Source, Synonyms: orEmpty(c.Synonyms)})
	}
	return f.print(cmd.OutOrStdout(), out, func() error {
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

// configFlags are the ways a command takes configs, as the Confluent CLI does: --config key=value (repeated; not
// split on commas, which filter JSON and JAAS values hold) or --config FILE (a properties file), and --config-file
// FILE.
type configFlags struct {
	file   string
	values []string
}

func (c *configFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&c.file, "config-file", "", "a properties file of "+what+" (key=value lines, # comments)")
	cmd.Flags().StringArrayVar(&c.values, "config", nil, "a "+what[:len(what)-1]+" as key=value, or a properties file of them (repeat the flag for more)")
}

// collect merges the files and the key=value flags (later ones win) in the order given.
func (c *configFlags) collect() ([]adminapi.ConfigValue, error) {
	values := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := values[k]; !ok {
			order = append(order, k)
		}
		values[k] = v
	}
	readFile := func(path string) error {
		props, err := readProperties(path)
		if err != nil {
			return err
		}
		for _, kv := range props {
			set(kv[0], kv[1])
		}
		return nil
	}
	if c.file != "" {
		if err := readFile(c.file); err != nil {
			return nil, err
		}
	}
	for i, kv := range c.values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if _, err := os.Stat(kv); err != nil {
				// Not quoted: it may be a secret.
				return nil, fmt.Errorf("--config number %d is not key=value, nor a properties file that exists", i+1)
			}
			if err := readFile(kv); err != nil {
				return nil, err
			}
			continue
		}
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--config number %d is not key=value: the key is empty", i+1)
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
	var sourceCluster, sourceBootstrap, apiKey, apiSecret string
	var dryRun, noValidate bool
	cmd := &cobra.Command{
		Use:   "create LINK",
		Short: "Create a cluster link from a source cluster to the daemon's destination",
		Long: `create makes a new link with Confluent Cluster Linking's configs, taking the Confluent CLI's flags. The daemon
validates every config and reports every problem at once; with --dry-run nothing is created. Secrets are sent as
values: ${env:...} and ${file:...} references are only allowed in the daemon's own config file. clusterlink runs
destination-initiated links on the cluster it writes to (no source-initiated or bidirectional links).`,
		Example: `  clusterlink link create my-link --source-cluster lkc-src --source-bootstrap-server src-1:9092 \
      --config auto.create.mirror.topics.enable=true \
      --config 'auto.create.mirror.topics.filters={"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}'
  clusterlink link create my-link --source-bootstrap-server src-1:9092 --config link.properties --dry-run
  clusterlink link create my-link --source-bootstrap-server src-1:9092 --source-api-key KEY --source-api-secret SECRET`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			configs, err := cf.collect()
			if err != nil {
				return err
			}
			set := func(k, v string) {
				i := slices.IndexFunc(configs, func(c adminapi.ConfigValue) bool { return c.Name == k })
				if i < 0 {
					configs = append(configs, adminapi.ConfigValue{Name: k, Value: v})
				} else {
					configs[i].Value = v
				}
			}
			if sourceBootstrap != "" {
				set("bootstrap.servers", sourceBootstrap)
			}
			if (apiKey == "") != (apiSecret == "") {
				return fmt.Errorf("--source-api-key and --source-api-secret go together")
			}
			if apiKey != "" {
				// What the Confluent CLI makes of them: SASL/PLAIN over TLS.
				set("security.protocol", "SASL_SSL")
				set("sasl.mechanism", "PLAIN")
				set("sasl.jaas.config", fmt.Sprintf(`org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s";`,
					apiKey, apiSecret))
			}
			// --no-validate is accepted as the Confluent CLI has it: clusterlink always creates the link and shows an
			// unreachable source in its state (link_state UNAVAILABLE), so there is nothing to skip.
			_ = noValidate
			ctx, cancel := requestContext(cmd)
			defer cancel()
			req := adminapi.CreateLinkRequest{SourceClusterID: sourceCluster, Configs: configs}
			if err := f.client().CreateLink(ctx, args[0], req, dryRun); err != nil {
				return err
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "[DRY RUN] Link %q is valid (not created).\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Created cluster link %q.\n", args[0])
			}
			return nil
		},
	}
	cf.register(cmd, "link configs")
	cmd.Flags().StringVar(&sourceCluster, "source-cluster", "", "the source cluster's id")
	cmd.Flags().StringVar(&sourceBootstrap, "source-bootstrap-server", "", "the source cluster's bootstrap.servers")
	cmd.Flags().StringVar(&apiKey, "source-api-key", "", "SASL/PLAIN username for the source (with --source-api-secret: security.protocol=SASL_SSL)")
	cmd.Flags().StringVar(&apiSecret, "source-api-secret", "", "SASL/PLAIN password for the source")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate the link, do not create it")
	cmd.Flags().BoolVar(&noValidate, "no-validate", false, "create the link even if the source cannot be reached (clusterlink always does)")
	return cmd
}

func newLinkDeleteCommand(f *clientFlags) *cobra.Command {
	var force, dryRun bool
	cmd := &cobra.Command{
		Use:   "delete LINK...",
		Short: "Delete cluster links created through the API",
		Long: `delete stops each link and forgets it. Without --force it refuses while a mirror topic of the link is not STOPPED
(promote or fail them over first). Mirror topics stay on the destination as they are. With --dry-run it only checks.`,
		Example: "  clusterlink link delete my-link\n  clusterlink link delete my-link other-link --force --dry-run",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			for _, link := range args {
				if err := f.client().DeleteLink(ctx, link, force, dryRun); err != nil {
					return err
				}
				if dryRun {
					fmt.Fprintf(cmd.OutOrStdout(), "[DRY RUN] Cluster link %q can be deleted (not deleted).\n", link)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "Deleted cluster link %q.\n", link)
				}
			}
			return nil
		},
	}
	// Not the Confluent CLI's --force (skip the confirmation prompt: there is none here), but its REST API's force.
	cmd.Flags().BoolVar(&force, "force", false, "delete even if mirror topics are still mirroring (the API's force)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check that the link can be deleted, delete nothing")
	return cmd
}

func newLinkConfigurationCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:     "configuration",
		Short:   "List or update a link's configs",
		Example: "  clusterlink link configuration list my-link\n  clusterlink link configuration update my-link --config consumer.offset.sync.ms=10000",
	})
	list := &cobra.Command{
		Use:     "list LINK",
		Short:   "List a link's configs",
		Example: "  clusterlink link configuration list my-link",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
  clusterlink link configuration update my-link --config my-config.txt
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
				fmt.Fprintf(cmd.OutOrStdout(), "[DRY RUN] The configs of cluster link %q are valid (not changed).\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Updated cluster link %q.\n", args[0])
			}
			return nil
		},
	}
	cf.register(update, "link configs")
	update.Flags().StringSliceVar(&reset, "reset", nil, "configs to set back to their defaults")
	update.Flags().BoolVar(&dryRun, "dry-run", false, "validate only")
	cmd.AddCommand(list, update)
	return cmd
}

func newLinkTaskCommand(f *clientFlags) *cobra.Command {
	cmd := parent(&cobra.Command{
		Use:     "task",
		Short:   "Show a link's tasks (its sync loops and checks)",
		Example: "  clusterlink link task list my-link",
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "list LINK",
		Short:   "List a link's tasks, their states and errors",
		Example: "  clusterlink link task list my-link\n  clusterlink link task list my-link -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := requestContext(cmd)
			defer cancel()
			link, err := f.client().Link(ctx, args[0])
			if err != nil {
				return err
			}
			out := []taskOut{}
			for _, task := range link.Tasks {
				t := taskOut{TaskName: task.TaskName, State: task.State, Errors: []taskErrorOut{}}
				for _, e := range task.Errors {
					t.Errors = append(t.Errors, taskErrorOut(e))
				}
				out = append(out, t)
			}
			return f.print(cmd.OutOrStdout(), out, func() error {
				t := table{header: []string{"Task Name", "State", "Errors"}}
				for _, task := range out {
					var errs []string
					for _, e := range task.Errors {
						errs = append(errs, fmt.Sprintf("%s: %q", e.ErrorCode, e.ErrorMessage))
					}
					t.add(task.TaskName, task.State, strings.Join(errs, ", "))
				}
				return t.write(cmd.OutOrStdout())
			})
		},
	})
	return cmd
}
