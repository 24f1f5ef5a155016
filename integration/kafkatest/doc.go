// Package kafkatest starts real Apache Kafka clusters for tests: KRaft nodes (combined broker and controller) run as
// child processes on 127.0.0.1 from the published broker jars that Maven resolves from this folder's pom.xml.
//
// A cluster is one node by default, or three for failover tests; it can have a SASL/PLAIN listener with the
// StandardAuthorizer and a super user, extra client listeners of their own (SSL, SASL_SSL with SCRAM or OAUTHBEARER,
// mTLS: Listener) beside the harness's, and any broker config. Nodes can be stopped, killed (SIGKILL) and restarted
// with their data. Every node runs in its own process group and is killed when its test ends, passes or panics.
//
// It must not touch the network beyond the loopback interface, and it never downloads anything itself: the jars come
// through `mvn`, which knows its registry.
package kafkatest
