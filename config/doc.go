// Package config parses what the user wrote: the daemon's YAML file and each link's configs under Confluent's
// cluster-linking names, with their defaults, the JSON topic, group and ACL filters, the Kafka client security keys
// (SASL mechanisms, JKS/PKCS#12/PEM stores), and validation that reports every problem at once, each naming its key.
//
// Parsing reads only the file, the secrets it points to and the stores and keys it names; it talks to no cluster.
// The franz-go options it builds (KgoOpts) read credentials and fetch OAUTHBEARER tokens when a connection
// authenticates, never at parse time.
package config
