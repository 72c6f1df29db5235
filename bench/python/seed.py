"""Seeds moto with the routing document and the secrets both cold-start subjects read.

Usage: seed.py AWS_ENDPOINT_URL RECEIVERS_URL
"""
import json
import sys

import boto3

aws, receivers = sys.argv[1], sys.argv[2]
routes = {
    "receivers": [
        {"name": "bench-slack", "slack": {"webhook_url": "secretsmanager:sagealarm/bench/slack#webhook_url"}},
        {"name": "bench-pagerduty", "pagerduty": {"routing_key": "ssm:/sagealarm/bench/pagerduty", "events_url": f"{receivers}/pd"}},
    ],
    "route": {"receivers": ["bench-slack", "bench-pagerduty"], "severity": "critical"},
}
ssm = boto3.client("ssm", endpoint_url=aws)
# JSON is YAML: the Rust function parses it as its routing document, the Python handler as JSON.
ssm.put_parameter(Name="/sagealarm/bench/routes", Value=json.dumps(routes), Type="String", Overwrite=True)
ssm.put_parameter(Name="/sagealarm/bench/pagerduty", Value="0123456789abcdef0123456789abcdef", Type="SecureString", Overwrite=True)
sm = boto3.client("secretsmanager", endpoint_url=aws)
secret = json.dumps({"webhook_url": f"{receivers}/slack"})
try:
    sm.create_secret(Name="sagealarm/bench/slack", SecretString=secret)
except sm.exceptions.ResourceExistsException:
    sm.put_secret_value(SecretId="sagealarm/bench/slack", SecretString=secret)
