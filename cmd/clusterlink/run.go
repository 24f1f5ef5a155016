package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/daemon"
	"github.com/clusterlink/clusterlink/replicator"
)

func newRunCommand() *cobra.Command {
	var configPath, logFormat, logLevel string
	var pprof, adopt bool
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the clusterlink daemon",
		Long: `run starts the daemon: it reads the config file (the destination cluster, the admin listener and the links),
keeps its state in a compacted topic on the destination, mirrors every link's topics and serves the admin API that
the other commands use. SIGINT or SIGTERM stop it cleanly: produces in flight are answered first.`,
		Example: "  clusterlink run --config clusterlink.yaml\n  clusterlink run --config clusterlink.yaml --log-format console --log-level debug",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logFormat, logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg, err := config.Load(configPath)
			if err != nil {
				return fmt.Errorf("config file %s:\n%w", configPath, err)
			}
			if os.Getenv("GOMEMLIMIT") == "" { // the operator's own limit wins
				limit := replicator.SoftMemoryLimit(cfg.Memory.BudgetBytes)
				debug.SetMemoryLimit(limit)
				log.Info("memory budget", zap.Int64("memory.budget.bytes", cfg.Memory.BudgetBytes), zap.Int64("go_memory_limit", limit))
			}
			log.Info("connecting to the destination cluster", zap.String("version", version), zap.Strings("bootstrap_servers", cfg.Destination.BootstrapServers),
				zap.String("state_topic", cfg.State.Topic))
			startCtx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			d, err := daemon.New(startCtx, cfg, daemon.Options{Logger: log, Pprof: pprof, AdoptUnsealedState: adopt, Build: buildInfo()})
			cancel()
			if err != nil {
				return err
			}
			defer d.Close()
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "the daemon's YAML config file (required)")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "json or console (default: console on a terminal, json otherwise)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().BoolVar(&pprof, "pprof", false, "serve net/http/pprof under /debug/pprof/ on the admin listener")
	cmd.Flags().BoolVar(&adopt, "adopt-unsealed-state", false,
		"seal, once, the state records written in clear before state.encryption.key was set (only if no one else can have written the state topic)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// newLogger logs JSON unless stderr is a terminal or format says otherwise.
func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	}
	var zc zap.Config
	switch format {
	case "json":
		zc = zap.NewProductionConfig()
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
	default:
		return nil, fmt.Errorf("--log-format %q: use json or console", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	return zc.Build()
}
