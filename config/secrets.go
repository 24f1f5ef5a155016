package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Any config value may be a whole-value reference to a secret, resolved when the config is parsed:
//
//	${env:NAME}    the value of environment variable NAME (set, even if empty)
//	${file:/path}  the content of the file, without its trailing line break
//
// Unlike Kafka's FileConfigProvider (${file:/path:key} into a properties file), a file reference takes the whole
// file. Errors name the reference, never the secret.

// resolveSecret returns v, or what it refers to when it is a ${env:...} or ${file:...} reference.
func resolveSecret(v string) (string, error) {
	ref, ok := strings.CutPrefix(v, "${")
	if !ok || !strings.HasSuffix(ref, "}") {
		if strings.Contains(v, "${env:") || strings.Contains(v, "${file:") {
			return "", errors.New("holds a ${env:...} or ${file:...} reference inside other text: a reference must be the whole value")
		}
		return v, nil
	}
	ref = strings.TrimSuffix(ref, "}")
	provider, arg, ok := strings.Cut(ref, ":")
	if !ok {
		return "", errors.New("the ${...} reference has no provider: use ${env:NAME} or ${file:/path}")
	}
	switch provider {
	case "env":
		if arg == "" {
			return "", errors.New("the ${env:} reference names no environment variable")
		}
		s, ok := os.LookupEnv(arg)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", arg)
		}
		return s, nil
	case "file":
		if arg == "" {
			return "", errors.New("the ${file:} reference names no file")
		}
		b, err := os.ReadFile(arg)
		if err != nil {
			// The *PathError names the path and the reason only.
			return "", fmt.Errorf("cannot read secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	// Neither the reference nor its provider is quoted: a malformed reference may hold a secret pasted into it.
	return "", errors.New("the ${...} reference has an unknown provider: use ${env:NAME} or ${file:/path}")
}

// resolveSecrets resolves every value of configs into a new map; a key whose reference cannot be resolved is left
// out of it, reported, and listed in failed.
func resolveSecrets(configs map[string]string, probs *problems) (values map[string]string, failed map[string]bool) {
	values, failed = make(map[string]string, len(configs)), map[string]bool{}
	for _, k := range sortedKeys(configs) {
		v, err := resolveSecret(configs[k])
		if err != nil {
			probs.addErr(k, err)
			failed[k] = true
			continue
		}
		values[k] = v
	}
	return values, failed
}

// refuseReferences takes configs as they are, but for values holding a ${env:...} or ${file:...} reference: those
// are reported, left out and listed in failed. Input from the admin API or the state topic goes through here.
func refuseReferences(configs map[string]string, probs *problems) (values map[string]string, failed map[string]bool) {
	values, failed = make(map[string]string, len(configs)), map[string]bool{}
	for _, k := range sortedKeys(configs) {
		v := configs[k]
		if strings.Contains(v, "${env:") || strings.Contains(v, "${file:") {
			probs.add(k, "${env:...} and ${file:...} references are only resolved in the daemon's config file; give the value itself")
			failed[k] = true
			continue
		}
		values[k] = v
	}
	return values, failed
}
