// Package kafkaapi holds one small builder per Kafka API the data plane speaks raw (not through franz-go's
// producer, consumer or admin client): each file, named by the API's key like franz-go's kfake, builds the kmsg
// request from plain inputs and reads the response into plain results, with per-partition errors as kerr errors.
// It sends nothing itself: the caller chooses the client and the broker. It knows nothing of mirrors or links.
package kafkaapi
