package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/magiconair/properties"
)

// Any config value of the daemon's own file may be a whole-value reference to a secret, resolved when the file is
// parsed:
//
//	${env:NAME}              the value of environment variable NAME (set, even if empty)
//	${file:/path}            the content of the file, without its trailing line break
//	${file:/path:key}        the value of key in the Java properties file /path, as Kafka's FileConfigProvider
//	                         reads it (the part after the last ':' is the key)
//	${directory:/dir:name}   the content of the file name in /dir, as Kafka's DirectoryConfigProvider reads it
//
// Errors name the reference, never the secret. References are resolved only in the daemon's own file
// (ParseFileLink, Parse); input from the admin API or the state topic that holds one is refused (ParseLink).

// referenceMarkers are the texts that start a reference; a value holding one anywhere is refused outside the file.
var referenceMarkers = []string{"${env:", "${file:", "${directory:"}

func holdsReference(v string) bool {
	for _, m := range referenceMarkers {
		if strings.Contains(v, m) {
			return true
		}
	}
	return false
}

const referenceForms = "use ${env:NAME}, ${file:/path}, ${file:/path:key} or ${directory:/dir:name}"

// resolveSecret returns v, or what it refers to when it is a reference.
func resolveSecret(v string) (string, error) {
	ref, ok := strings.CutPrefix(v, "${")
	if !ok || !strings.HasSuffix(ref, "}") {
		if holdsReference(v) {
			return "", errors.New("holds a ${env:...}, ${file:...} or ${directory:...} reference inside other text: a reference must be the whole value")
		}
		return v, nil
	}
	ref = strings.TrimSuffix(ref, "}")
	provider, arg, ok := strings.Cut(ref, ":")
	if !ok {
		return "", errors.New("the ${...} reference has no provider: " + referenceForms)
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
		if i := strings.LastIndex(arg, ":"); i > 0 {
			return propertiesValue(arg[:i], arg[i+1:])
		}
		return readSecretFile(arg)
	case "directory":
		dir, name, ok := cutLast(arg, ":")
		if !ok || dir == "" || name == "" {
			return "", errors.New("the ${directory:} reference needs a directory and a file name: ${directory:/dir:name}")
		}
		if strings.ContainsAny(name, `/\`) || name == ".." || name == "." {
			return "", errors.New("the ${directory:} reference's file name must be a plain name inside the directory")
		}
		return readSecretFile(filepath.Join(dir, name))
	}
	// Neither the reference nor its provider is quoted: a malformed reference may hold a secret pasted into it.
	return "", errors.New("the ${...} reference has an unknown provider: " + referenceForms)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError names the path and the reason only.
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// propertiesValue reads key from the Java properties file at path (escapes, continuations, ':' and '=' separators
// as Java reads them). Neither the file's text nor its parser's message (which may quote it) is reported.
func propertiesValue(path, key string) (string, error) {
	if key == "" {
		return "", errors.New("the ${file:/path:key} reference names no key")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadBytes(b)
	if err != nil {
		return "", fmt.Errorf("%s is not a Java properties file", path)
	}
	v, ok := p.Get(key)
	if !ok {
		return "", fmt.Errorf("the properties file %s has no key %s", path, key)
	}
	return v, nil
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

// refuseReferences takes configs as they are, but for values holding a reference: those are reported, left out and
// listed in failed. Input from the admin API or the state topic goes through here.
func refuseReferences(configs map[string]string, probs *problems) (values map[string]string, failed map[string]bool) {
	values, failed = make(map[string]string, len(configs)), map[string]bool{}
	for _, k := range sortedKeys(configs) {
		v := configs[k]
		if holdsReference(v) {
			probs.add(k, "${env:...} and ${file:...} references are only resolved in the daemon's config file; give the value itself")
			failed[k] = true
			continue
		}
		values[k] = v
	}
	return values, failed
}
