package kafkatest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// serverProperties renders one node's server.properties.
func serverProperties(o *options, n *Node, voters string) string {
	props := map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          fmt.Sprint(n.ID),
		"controller.quorum.voters":                         voters,
		"controller.listener.names":                        "CONTROLLER",
		"log.dirs":                                         n.dataDir(),
		"num.partitions":                                   "1",
		"default.replication.factor":                       fmt.Sprint(min(o.nodes, 3)),
		"min.insync.replicas":                              "1",
		"offsets.topic.replication.factor":                 fmt.Sprint(min(o.nodes, 3)),
		"offsets.topic.num.partitions":                     "4",
		"transaction.state.log.replication.factor":         fmt.Sprint(min(o.nodes, 3)),
		"transaction.state.log.min.isr":                    "1",
		"transaction.state.log.num.partitions":             "4",
		"share.coordinator.state.topic.replication.factor": fmt.Sprint(min(o.nodes, 3)),
		"share.coordinator.state.topic.min.isr":            "1",
		"group.initial.rebalance.delay.ms":                 "0",
		"auto.create.topics.enable":                        "false",
		"log.flush.interval.messages":                      "9223372036854775807",
		"unclean.leader.election.enable":                   "false",
	}
	if o.sasl {
		users := map[string]string{SuperUser: SuperPassword}
		maps.Copy(users, o.users)
		var jaas strings.Builder
		fmt.Fprintf(&jaas, `org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s"`, SuperUser, SuperPassword)
		for _, u := range slices.Sorted(maps.Keys(users)) {
			fmt.Fprintf(&jaas, ` user_%s="%s"`, u, users[u])
		}
		jaas.WriteString(";")
		props["listeners"] = fmt.Sprintf("SASL_PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", n.Port, n.ControllerPort)
		props["advertised.listeners"] = fmt.Sprintf("SASL_PLAINTEXT://127.0.0.1:%d", n.Port)
		props["listener.security.protocol.map"] = "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
		props["inter.broker.listener.name"] = "SASL_PLAINTEXT"
		props["sasl.enabled.mechanisms"] = "PLAIN"
		props["sasl.mechanism.inter.broker.protocol"] = "PLAIN"
		props["listener.name.sasl_plaintext.plain.sasl.jaas.config"] = jaas.String()
		props["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
		props["super.users"] = "User:" + SuperUser + ";User:ANONYMOUS"
		props["allow.everyone.if.no.acl.found"] = "false"
	} else {
		props["listeners"] = fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", n.Port, n.ControllerPort)
		props["advertised.listeners"] = fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.Port)
		props["listener.security.protocol.map"] = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
		props["inter.broker.listener.name"] = "PLAINTEXT"
	}
	for _, l := range o.listeners {
		props["listeners"] += fmt.Sprintf(",%s://127.0.0.1:%d", l.Name, n.Listeners[l.Name])
		props["advertised.listeners"] += fmt.Sprintf(",%s://127.0.0.1:%d", l.Name, n.Listeners[l.Name])
		props["listener.security.protocol.map"] += fmt.Sprintf(",%s:%s", l.Name, l.Protocol)
		for k, v := range l.Configs {
			props["listener.name."+strings.ToLower(l.Name)+"."+k] = v
		}
	}
	maps.Copy(props, o.brokerConfig)

	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		// Properties files treat backslashes as escapes: a value's own are doubled, its line breaks written as \n.
		v := strings.ReplaceAll(props[k], `\`, `\\`)
		v = strings.ReplaceAll(v, "\n", `\n`)
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return b.String()
}

// log4j2Properties sends the broker's log to standard output, which the harness writes to the node's log file.
const log4j2Properties = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`
