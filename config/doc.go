// Package config parses what the user wrote: the daemon's YAML file and each link's configs under Confluent's
// cluster-linking names, with their defaults, the JSON topic, group and ACL filters, and validation that reports
// every problem at once, each naming its key.
//
// It does no I/O beyond reading the file and the secrets it points to, and talks to no cluster.
package config
