package config

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
)

// AWS_MSK_IAM, as the aws-msk-iam-auth library for Kafka's Java client takes it:
//
//	sasl.mechanism=AWS_MSK_IAM
//	sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required [awsProfileName="name"];
//	sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler
//
// The credentials are read at every authentication (so rotated ones are picked up): from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when no profile is named, else from the profile (awsProfileName,
// else $AWS_PROFILE, else default) of the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials). The region comes from the broker's host name, else $AWS_REGION. franz-go's sasl/aws signs the
// request. EC2, ECS and web-identity role credentials and awsRoleArn need the AWS SDK, which clusterlink does not
// include: give the role's credentials through the environment or a profile.
//
// These are the daemon host's credentials, so only the daemon's own file may ask for them: over the admin API an
// AWS_MSK_IAM link is refused.

const iamClientCallbackHandler = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"

// AWSIAM is an AWS_MSK_IAM client's credential source. It is comparable.
type AWSIAM struct {
	Profile string // awsProfileName; "" uses the environment's keys first
}

func parseAWSIAM(values, opts map[string]string, probs *problems, trusted bool) AWSIAM {
	a := AWSIAM{Profile: opts["awsProfileName"]}
	if !trusted {
		probs.add(keySASLMechanism, "AWS_MSK_IAM signs with the AWS credentials of the daemon's host: declare such a link in the daemon's file")
		return a
	}
	if _, ok := opts["awsRoleArn"]; ok {
		probs.add(keySASLJAASConfig, "option awsRoleArn is not supported: assuming a role needs the AWS SDK; give the role's credentials through AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or a profile (awsProfileName)")
	}
	if v, ok := values[keyClientCallback]; ok && strings.TrimSpace(v) != iamClientCallbackHandler {
		probs.add(keyClientCallback, "not supported: AWS_MSK_IAM takes %s; set that class or remove the key", iamClientCallbackHandler)
	}
	if _, err := a.credentials(); err != nil {
		probs.addErr(keySASLJAASConfig, err)
	}
	return a
}

// credentials reads the credentials now.
func (a AWSIAM) credentials() (aws.Auth, error) {
	if a.Profile == "" && os.Getenv("AWS_ACCESS_KEY_ID") != "" {
		if os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
			return aws.Auth{}, errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
		}
		return aws.Auth{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: os.Getenv("AWS_SESSION_TOKEN"), UserAgent: "clusterlink"}, nil
	}
	profile := firstSet(a.Profile, os.Getenv("AWS_PROFILE"), "default")
	path := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return aws.Auth{}, errors.New("no AWS credentials: AWS_ACCESS_KEY_ID is not set and there is no home directory for ~/.aws/credentials")
		}
		path = filepath.Join(home, ".aws", "credentials")
	}
	keys, err := iniSection(path, profile)
	if err != nil {
		return aws.Auth{}, fmt.Errorf("no AWS credentials: AWS_ACCESS_KEY_ID is not set and %v", err)
	}
	if keys["aws_access_key_id"] == "" || keys["aws_secret_access_key"] == "" {
		return aws.Auth{}, fmt.Errorf("no AWS credentials: profile %s of %s has no aws_access_key_id or aws_secret_access_key", profile, path)
	}
	return aws.Auth{AccessKey: keys["aws_access_key_id"], SecretKey: keys["aws_secret_access_key"],
		SessionToken: keys["aws_session_token"], UserAgent: "clusterlink"}, nil
}

// iniSection reads the keys of one [section] of an AWS credentials file. Errors never quote the file's lines.
func iniSection(path, section string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	out := map[string]string{}
	found, in := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := strings.TrimSpace(line[1 : len(line)-1])
			in = name == section || name == "profile "+section
			found = found || in
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%s has no profile %s", path, section)
	}
	return out, nil
}

// mechanism returns the AWS_MSK_IAM mechanism.
func (a AWSIAM) mechanism() (sasl.Mechanism, error) {
	return aws.ManagedStreamingIAM(func(context.Context) (aws.Auth, error) { return a.credentials() }), nil
}
