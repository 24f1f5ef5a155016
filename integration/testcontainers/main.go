// Command testcontainers starts one single-node PLAINTEXT Apache Kafka cluster in Docker through testcontainers-go's
// Kafka module, prints its bootstrap address on one line of stdout ("bootstrap HOST:PORT"), and keeps it until its
// stdin closes or it gets SIGINT/SIGTERM, then terminates the container.
//
// It is a module of its own so that testcontainers-go (about 90 modules: the Docker client, OpenTelemetry, gRPC)
// stays out of the main module's graph: kafkatest's testcontainers backend builds and runs this program instead of
// importing it. It must not import the main module.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
)

type envFlag map[string]string

func (e envFlag) String() string { return fmt.Sprint(map[string]string(e)) }
func (e envFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want KEY=VALUE", s)
	}
	e[k] = v
	return nil
}

func main() {
	image := flag.String("image", "confluentinc/confluent-local:7.9.0", "the Kafka image (the testcontainers Kafka module drives Confluent's community image, Apache Kafka inside)")
	clusterID := flag.String("cluster-id", "", "the KRaft cluster id")
	env := envFlag{}
	flag.Var(env, "env", "a container environment variable KEY=VALUE (repeatable)")
	flag.Parse()
	if err := run(*image, *clusterID, env); err != nil {
		fmt.Fprintln(os.Stderr, "testcontainers:", err)
		os.Exit(1)
	}
}

func run(image, clusterID string, env map[string]string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []testcontainers.ContainerCustomizer{testcontainers.WithEnv(env)}
	if clusterID != "" {
		opts = append(opts, tckafka.WithClusterID(clusterID))
	}
	kc, err := tckafka.Run(ctx, image, opts...)
	if err != nil {
		return fmt.Errorf("start a Kafka container (%s): %w", image, err)
	}
	defer func() { _ = testcontainers.TerminateContainer(kc) }()
	brokers, err := kc.Brokers(ctx)
	if err != nil || len(brokers) == 0 {
		return fmt.Errorf("the Kafka container's address: %v", err)
	}
	fmt.Printf("bootstrap %s\n", brokers[0])
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}
