"""The cold-start baseline: sagealarm's job without enrichment, written the way the popular Python
Slack notifiers for CloudWatch alarms are (boto3 for configuration and secrets, urllib to post).

At import (the Lambda init phase): boto3 clients, and the routing document from SSM, like the Rust
function. Per event: parse the SNS alarm, resolve each receiver's secret once (Secrets Manager or
SSM), post a Slack Block Kit message and a PagerDuty Events v2 event.
"""
import json
import os
import urllib.request

import boto3

ssm = boto3.client("ssm")
secretsmanager = boto3.client("secretsmanager")
ROUTES = json.loads(ssm.get_parameter(Name=os.environ["SAGEALARM_ROUTES_SSM"], WithDecryption=True)["Parameter"]["Value"])
_secrets = {}


def secret(ref):
    if ref not in _secrets:
        scheme, _, rest = ref.partition(":")
        if scheme == "ssm":
            _secrets[ref] = ssm.get_parameter(Name=rest, WithDecryption=True)["Parameter"]["Value"]
        elif scheme == "secretsmanager":
            name, _, key = rest.partition("#")
            value = secretsmanager.get_secret_value(SecretId=name)["SecretString"]
            _secrets[ref] = json.loads(value)[key] if key else value
        else:
            raise ValueError(f"unknown secret reference {scheme}:")
    return _secrets[ref]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def slack_message(alarm):
    trigger = alarm.get("Trigger", {})
    dims = {d["name"]: d["value"] for d in trigger.get("Dimensions", [])}
    state = alarm["NewStateValue"]
    icon = {"ALARM": ":red_circle:", "OK": ":large_green_circle:"}.get(state, ":warning:")
    title = f"{icon} {state}: {alarm['AlarmName']}"
    return {
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alarm.get("NewStateReason", "")[:3000]}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*Endpoint*\n{dims.get('EndpointName', '-')}"},
                {"type": "mrkdwn", "text": f"*Variant*\n{dims.get('VariantName', '-')}"},
                {"type": "mrkdwn", "text": f"*Metric*\n{trigger.get('Namespace')} {trigger.get('MetricName')}"},
                {"type": "mrkdwn", "text": f"*Since*\n{alarm.get('StateChangeTime')}"},
            ]},
        ],
    }


def pagerduty_event(alarm, key):
    return {
        "routing_key": key,
        "event_action": "resolve" if alarm["NewStateValue"] == "OK" else "trigger",
        "dedup_key": alarm["AlarmArn"][:255],
        "payload": {"summary": f"{alarm['AlarmName']}: {alarm.get('NewStateReason', '')}"[:1024], "source": alarm["AlarmArn"], "severity": "critical"},
    }


def handler(event, context):
    delivered = 0
    for record in event.get("Records", []):
        alarm = json.loads(record["Sns"]["Message"])
        for r in ROUTES["receivers"]:
            if r["name"] not in ROUTES["route"]["receivers"]:
                continue
            if "slack" in r:
                post(secret(r["slack"]["webhook_url"]), slack_message(alarm))
            else:
                pd = r["pagerduty"]
                post(pd.get("events_url", "https://events.pagerduty.com/v2/enqueue"), pagerduty_event(alarm, secret(pd["routing_key"])))
            delivered += 1
    return {"delivered": delivered}
