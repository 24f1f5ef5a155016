// Package quickstart proves README.md's quick start as a new user would follow it: in a fresh clone, the commands
// of its blocks marked quickstart, as written, against the brokers of make brokers. It has no code, only a test.
package quickstart
