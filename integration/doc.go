// Package integration holds the tests that prove clusterlink's behaviour against real Apache Kafka brokers, started
// as local KRaft processes by the kafkatest harness. Tests here never skip when CI=true: a broker that cannot start
// fails the run.
package integration
