// Command brokers is `make brokers`: it starts two real local Apache Kafka clusters (one KRaft broker+controller
// each, the pinned version, from the jars Maven resolved) with the harness the integration tests use, the source on
// localhost:9092 and the destination on localhost:9093 as README.md's example config expects, prints their
// addresses, creates a topic on the source with some records (orders, the example's explicit mirror), and keeps
// them until Ctrl-C (SIGINT or SIGTERM), when it stops both broker processes and removes their
// data. It is for trying clusterlink by hand, not for anything that must keep data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

func main() {
	sourcePort := flag.Int("source-port", 9092, "the source cluster's client port")
	destinationPort := flag.Int("destination-port", 9093, "the destination cluster's client port")
	heap := flag.String("heap", "512m", "the JVM heap of each broker")
	topic := flag.String("topic", "orders", "a topic to create on the source (\"\" for none)")
	records := flag.Int("records", 1000, "records to produce to -topic")
	flag.Parse()
	if err := run(*sourcePort, *destinationPort, *heap, *topic, *records); err != nil {
		fmt.Fprintln(os.Stderr, "brokers:", err)
		os.Exit(1)
	}
}

func run(sourcePort, destinationPort int, heap, topic string, records int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, p := range []int{sourcePort, destinationPort} {
		if err := portFree(p); err != nil {
			return err
		}
	}
	fmt.Println("starting two Apache Kafka brokers (KRaft) on 127.0.0.1, resolving their jars with mvn if needed ...")
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	clusters, err := kafkatest.StartMany(startCtx,
		[]kafkatest.Opt{kafkatest.ClientPorts(sourcePort), kafkatest.Heap(heap)},
		[]kafkatest.Opt{kafkatest.ClientPorts(destinationPort), kafkatest.Heap(heap)})
	cancel()
	defer func() {
		for _, c := range clusters {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	src, dst := clusters[0], clusters[1]
	if topic != "" {
		if err := seed(ctx, src, topic, records); err != nil {
			return err
		}
	}
	fmt.Printf("source:      localhost:%d (pid %d, log %s)\n", sourcePort, src.Nodes[0].PID(), src.Nodes[0].LogPath())
	fmt.Printf("destination: localhost:%d (pid %d, log %s)\n", destinationPort, dst.Nodes[0].PID(), dst.Nodes[0].LogPath())
	fmt.Println("ready: bin/clusterlink run --config clusterlink.yaml (README.md's example) in another shell; Ctrl-C stops both brokers")
	<-ctx.Done()
	fmt.Println("stopping the brokers")
	return nil
}

// seed creates topic on the source with 3 partitions and produces records to it.
func seed(ctx context.Context, c *kafkatest.Cluster, topic string, records int) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		return fmt.Errorf("create %s on the source: %w", topic, err)
	}
	for i := range records {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 100)), Value: []byte(fmt.Sprintf("order %d", i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	fmt.Printf("created topic %s on the source with %d records\n", topic, records)
	return nil
}

// portFree fails with a clear message when a port is taken (a broker of yours already listens there?).
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return errors.New("port " + strconv.Itoa(port) + " is in use on 127.0.0.1 (another Kafka?): stop it, or pass -source-port/-destination-port and change the config's bootstrap.servers")
	}
	return l.Close()
}
