//go:build testcontainers

package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
)

// ContainerImageEnv overrides the image of the testcontainers backend. The testcontainers Kafka module drives
// Confluent's community image (Apache Kafka inside); the process backend runs the pinned Apache Kafka jars.
const ContainerImageEnv = "CLUSTERLINK_TEST_KAFKA_IMAGE"

// startContainers starts a single-node PLAINTEXT cluster in Docker through testcontainers-go. SASL and several
// nodes need the process backend, and so do Stop, Kill and Restart (a container's mapped port changes when it
// restarts).
func startContainers(ctx context.Context, o options) (*Cluster, error) {
	if o.nodes != 1 || o.sasl || len(o.listeners) > 0 {
		return nil, errors.New("kafkatest: the testcontainers backend starts single-node PLAINTEXT clusters; SASL, extra listeners and several nodes need the process backend")
	}
	image := os.Getenv(ContainerImageEnv)
	if image == "" {
		image = "confluentinc/confluent-local:7.9.0"
	}
	env := map[string]string{
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
	}
	for k, v := range o.brokerConfig {
		env["KAFKA_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = v
	}
	kc, err := tckafka.Run(ctx, image, tckafka.WithClusterID(newClusterID()), testcontainers.WithEnv(env))
	if err != nil {
		return nil, fmt.Errorf("kafkatest: start a Kafka container (%s): %w", image, err)
	}
	brokers, err := kc.Brokers(ctx)
	if err != nil || len(brokers) == 0 {
		_ = testcontainers.TerminateContainer(kc)
		return nil, fmt.Errorf("kafkatest: Kafka container address: %v", err)
	}
	_, port, _ := net.SplitHostPort(brokers[0])
	p, _ := strconv.Atoi(port)
	c := &Cluster{opts: o}
	c.Nodes = []*Node{{ID: 1, Port: p, external: errors.New("kafkatest: Stop, Kill and Restart need the process backend")}}
	c.closeFn = func() { _ = testcontainers.TerminateContainer(kc) }
	if err := c.WaitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
