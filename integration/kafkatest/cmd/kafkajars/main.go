// Command kafkajars resolves the pinned Apache Kafka broker jars with mvn (through the kafkatest harness's cache)
// and prints where the classpath is, so CI can install them before any test runs.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

func main() {
	cp, err := kafkatest.Classpath()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafkajars:", err)
		os.Exit(1)
	}
	fmt.Printf("kafka broker classpath: %d jars resolved\n", len(strings.Split(cp, ":")))
}
