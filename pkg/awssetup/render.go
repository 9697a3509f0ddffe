package awssetup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// File is one generated file: its name and contents.
type File struct {
	Name string
	Data []byte
}

// Formats are the output formats Render knows.
var Formats = []string{"terraform", "cloudformation"}

// Render writes the plan in format: one Terraform JSON file
// (jit-aws.tf.json) for every account, or one CloudFormation template per
// account (jit-aws-ACCOUNT.cfn.json).
func Render(p *Plan, format string) ([]File, error) {
	switch format {
	case "terraform":
		data, err := marshal(terraform(p))
		if err != nil {
			return nil, err
		}
		return []File{{Name: "jit-aws.tf.json", Data: data}}, nil
	case "cloudformation":
		var files []File
		for _, account := range p.Accounts() {
			data, err := marshal(cloudFormation(p, account))
			if err != nil {
				return nil, err
			}
			files = append(files, File{Name: "jit-aws-" + account + ".cfn.json", Data: data})
		}
		return files, nil
	}
	return nil, inputErr("format %q: want terraform or cloudformation", format)
}

func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// maxSessionSeconds is a role's MaxSessionDuration as IAM takes it
// (3600 … 43200 seconds).
func maxSessionSeconds(t Target) int {
	s := int(t.MaxSessionDuration.Seconds())
	return min(max(s, 3600), 43200)
}

// ---- Terraform (JSON syntax) ----

type obj = map[string]any

// tfString escapes a literal for Terraform's JSON syntax, where strings
// are templates: "${" and "%{" would start an interpolation or directive.
func tfString(s string) string {
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(s)
}

func tfPolicy(d Document) string { return tfString(compact(d)) }

func compact(d Document) string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings and maps of strings only
	}
	return string(b)
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// tfName is a Terraform resource name for s: letters, digits and _.
func tfName(prefix, s string) string {
	return prefix + "_" + strings.Trim(nonIdent.ReplaceAllString(s, "_"), "_")
}

func tfProvider(account string) string { return "aws.account_" + account }

func terraform(p *Plan) obj {
	var providers []obj
	for _, a := range p.Accounts() {
		region := p.Region
		if a == p.ServerAccount {
			region = p.AnchorRegion // IAM is global: only the bucket cares
		}
		providers = append(providers, obj{"alias": "account_" + a, "region": region, "allowed_account_ids": []string{a}})
	}
	roles, rolePolicies := obj{}, obj{}
	roles["jit_server"] = obj{"provider": tfProvider(p.ServerAccount), "name": p.ServerRole,
		"description":        "The jit server: the only principal that assumes jit's target roles",
		"assume_role_policy": tfPolicy(p.ServerTrustPolicy())}
	rolePolicies["jit_server"] = obj{"provider": tfProvider(p.ServerAccount), "name": p.ServerRole,
		"role": "${aws_iam_role.jit_server.id}", "policy": tfPolicy(ServerPolicy(p.ServerInputs()))}
	trust := tfPolicy(TargetTrustPolicy(p.ServerRoleARN))
	for _, t := range p.Targets {
		roles[tfName("target", t.Policy)] = obj{"provider": tfProvider(t.Account), "name": t.RoleName, "path": t.Path,
			"description":          "jit target role " + t.Policy + ": assumed by the jit server only, for a grant",
			"assume_role_policy":   trust,
			"max_session_duration": maxSessionSeconds(t),
			"depends_on":           []string{"aws_iam_role.jit_server"}}
	}
	for _, r := range p.Revokers {
		name := "revoker_" + r.Account
		roles[name] = obj{"provider": tfProvider(r.Account), "name": r.RoleName,
			"description":        "jit revoker: writes the jit-revocations inline policy of this account's target roles",
			"assume_role_policy": tfPolicy(RevokerTrustPolicy(p.ServerRoleARN, r.ExternalID)),
			"depends_on":         []string{"aws_iam_role.jit_server"}}
		rolePolicies[name] = obj{"provider": tfProvider(r.Account), "name": "jit-revoker",
			"role": "${aws_iam_role." + name + ".id}", "policy": tfPolicy(RevokerPolicy(r.Targets))}
	}
	resources := obj{"aws_iam_role": roles, "aws_iam_role_policy": rolePolicies}
	if a := p.Anchor; a != nil {
		prov := tfProvider(p.ServerAccount)
		ref := "${aws_s3_bucket.audit_anchor.id}"
		resources["aws_s3_bucket"] = obj{"audit_anchor": obj{"provider": prov, "bucket": a.Bucket, "object_lock_enabled": true}}
		resources["aws_s3_bucket_versioning"] = obj{"audit_anchor": obj{"provider": prov, "bucket": ref,
			"versioning_configuration": obj{"status": "Enabled"}}}
		resources["aws_s3_bucket_object_lock_configuration"] = obj{"audit_anchor": obj{"provider": prov, "bucket": ref,
			"rule":       obj{"default_retention": obj{"mode": "COMPLIANCE", "days": a.Retention()}},
			"depends_on": []string{"aws_s3_bucket_versioning.audit_anchor"}}}
		resources["aws_s3_bucket_public_access_block"] = obj{"audit_anchor": obj{"provider": prov, "bucket": ref,
			"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}}
	}
	return obj{
		"//":        "Generated by `jit server aws-setup` from the jit config; regenerate rather than edit. docs/aws-setup.md",
		"terraform": obj{"required_providers": obj{"aws": obj{"source": "hashicorp/aws", "version": ">= 5.0"}}},
		"provider":  obj{"aws": providers},
		"resource":  resources,
		"output": obj{
			"jit_server_role_arn": obj{"value": "${aws_iam_role.jit_server.arn}", "description": "The role the jit server runs as"},
		},
	}
}

// ---- CloudFormation ----

// cfnID is a CloudFormation logical id: letters and digits only.
func cfnID(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		up := true
		for _, r := range p {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) || r > unicode.MaxASCII {
				up = true
				continue
			}
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cloudFormation(p *Plan, account string) obj {
	res := obj{}
	if account == p.ServerAccount {
		res["JitServerRole"] = obj{"Type": "AWS::IAM::Role", "Properties": obj{
			"RoleName":                 p.ServerRole,
			"Description":              "The jit server: the only principal that assumes jit's target roles",
			"AssumeRolePolicyDocument": p.ServerTrustPolicy(),
			"Policies":                 []obj{{"PolicyName": p.ServerRole, "PolicyDocument": ServerPolicy(p.ServerInputs())}},
		}}
		if a := p.Anchor; a != nil {
			res["AuditAnchorBucket"] = obj{"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
				"Properties": obj{
					"BucketName":              a.Bucket,
					"ObjectLockEnabled":       true,
					"ObjectLockConfiguration": obj{"ObjectLockEnabled": "Enabled", "Rule": obj{"DefaultRetention": obj{"Mode": "COMPLIANCE", "Days": a.Retention()}}},
					"VersioningConfiguration": obj{"Status": "Enabled"},
					"PublicAccessBlockConfiguration": obj{"BlockPublicAcls": true, "BlockPublicPolicy": true,
						"IgnorePublicAcls": true, "RestrictPublicBuckets": true},
				}}
		}
	}
	for _, t := range p.TargetsIn(account) {
		res[cfnID("target", t.Policy, "role")] = obj{"Type": "AWS::IAM::Role", "Properties": obj{
			"RoleName":                 t.RoleName,
			"Path":                     t.Path,
			"Description":              "jit target role " + t.Policy + ": assumed by the jit server only, for a grant",
			"AssumeRolePolicyDocument": TargetTrustPolicy(p.ServerRoleARN),
			"MaxSessionDuration":       maxSessionSeconds(t),
		}}
	}
	for _, r := range p.Revokers {
		if r.Account != account {
			continue
		}
		res["JitRevokerRole"] = obj{"Type": "AWS::IAM::Role", "Properties": obj{
			"RoleName":                 r.RoleName,
			"Description":              "jit revoker: writes the jit-revocations inline policy of this account's target roles",
			"AssumeRolePolicyDocument": RevokerTrustPolicy(p.ServerRoleARN, r.ExternalID),
			"Policies":                 []obj{{"PolicyName": "jit-revoker", "PolicyDocument": RevokerPolicy(r.Targets)}},
		}}
	}
	return obj{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              fmt.Sprintf("jit AWS set-up for account %s, generated by `jit server aws-setup` (docs/aws-setup.md)", account),
		"Resources":                res,
	}
}
