#!/usr/bin/env python3
"""An example sender for the work-item server, using pika (1.x; Debian's python3-pika or `pip install pika`).

It sends a <workItem>, an <updateWorkItem revision="1"> that raises its priority, and a <cancelWorkItem>,
and prints each receipt. Exit code 0 when the receipts are accepted, updated and cancelled; 1 when one is
missing (timeout) or has another status; 2 on a connection or publishing problem.

    python3 examples/python/send_work_item.py [amqp://user:pass@host:5672/vhost]

Settings: the first argument or AMQP_URL (default amqp://guest:guest@127.0.0.1:5672; the vhost is the URL's
path, URL-encoded), WORKITEM_SOURCE (default bank-support), WORKITEM_ENTRANCE (default loans),
RECEIPT_TIMEOUT_SECONDS (default 15).

The XML is built with ElementTree here to keep the example to one file; a sender may as well generate classes
from schemas/workitem-v1.xsd (e.g. xsdata, generateDS) and serialize them.
"""
import contextlib
import os
import re
import signal
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import pika
import pika.exceptions

EXCHANGE = "workitem.inbound"
CONFIRM_TIMEOUT_SECONDS = 10


@contextlib.contextmanager
def deadline(seconds, what):
    """Bounds a blocking pika call (its publish waits for the confirm without a timeout of its own)."""
    if not hasattr(signal, "setitimer"):  # not POSIX: rely on the socket timeout and heartbeats
        yield
        return

    def expired(_signum, _frame):
        raise TimeoutError(f"{what}: nothing within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def element(tag, attrs=None, **children):
    """<tag attrs><child>text</child>...</tag>; ElementTree escapes the text."""
    el = ET.Element(tag, attrs or {})
    for name, text in children.items():
        ET.SubElement(el, name).text = text
    return el


def to_bytes(el):
    return ET.tostring(el, encoding="unicode").encode("utf-8")  # UTF-8, no declaration needed


class Sender:
    def __init__(self, channel, receipt_timeout):
        self.channel = channel
        self.receipt_timeout = receipt_timeout
        self.replies = {}
        # Publisher confirms: basic_publish returns once the broker has taken the message, and raises
        # UnroutableError when, with mandatory, no queue took it, NackError when the broker refused it.
        channel.confirm_delivery()
        # A server-named, exclusive, auto-delete queue for the receipts: it goes away with this connection.
        # (A sender that must never miss a receipt also binds a durable queue of its own to workitem.receipts
        # with the routing key *.<source>; see the README, "For sender developers".)
        self.reply_queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
        channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)

    def _on_reply(self, _channel, _method, properties, body):
        self.replies[properties.correlation_id] = body.decode("utf-8")

    def publish(self, source, body):
        correlation_id = str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type="application/xml",
            delivery_mode=2,  # persistent
            reply_to=self.reply_queue,
            correlation_id=correlation_id,
            message_id=str(uuid.uuid4()),
            timestamp=int(time.time()),
        )
        try:
            with deadline(CONFIRM_TIMEOUT_SECONDS, "publisher confirm"):
                self.channel.basic_publish(EXCHANGE, f"workitem.{source}", body, properties, mandatory=True)
        except pika.exceptions.UnroutableError as err:
            raise RuntimeError(
                "the broker returned the message (nothing bound for the routing key): is the work-item server "
                "running on this vhost (it binds the queue workitem.inbound)?"
            ) from err
        return correlation_id

    def await_receipt(self, correlation_id):
        """The receipt whose correlation_id matches, or None after the receipt timeout."""
        end = time.monotonic() + self.receipt_timeout
        while correlation_id not in self.replies:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.channel.connection.process_data_events(time_limit=min(left, 1.0))
        return self.replies.pop(correlation_id)

    def step(self, name, source, el, expected):
        correlation_id = self.publish(source, to_bytes(el))
        xml = self.await_receipt(correlation_id)
        if xml is None:
            print(f"{name}: no receipt within {self.receipt_timeout} s (correlation_id {correlation_id})")
            return False
        root = ET.fromstring(xml)  # the service's receipts carry no DOCTYPE; ElementTree resolves no external entities
        status = root.get("status")
        error = root.find("error")
        line = f"{name}: status={status} contactId={root.get('contactId') or '-'} error="
        if error is None:
            line += "-"
        else:
            line += f"{error.get('code')} path={error.get('path')} message={(error.text or '').strip()}"
        print(line)
        print("  " + re.sub(r"^\s*<\?xml[^>]*\?>", "", xml).strip())
        if status != expected:
            print(f"{name}: expected status {expected}, got {status}")
            if status == "buffered":
                print("  (buffered: the entrance is closed or nobody listens on contact.events for it;"
                      " start a contact center or `./workitem watch`)")
            return False
        return True


def redact(url):
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def main(argv):
    url = argv[1] if len(argv) > 1 else os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672"
    source = os.environ.get("WORKITEM_SOURCE") or "bank-support"
    entrance = os.environ.get("WORKITEM_ENTRANCE") or "loans"
    receipt_timeout = float(os.environ.get("RECEIPT_TIMEOUT_SECONDS") or "15")
    external_id = f"PY-{uuid.uuid4()}"  # a fresh item every run

    params = pika.URLParameters(url)  # user, password, host, port and vhost (the path, URL-decoded)
    params.socket_timeout = 10
    params.stack_timeout = 15
    params.blocked_connection_timeout = 30
    params.heartbeat = 30
    params.connection_attempts = 1
    params.client_properties = {"connection_name": "workitem-example-sender-python"}

    create = element("workItem", {"version": "1"}, externalId=external_id, source=source, entrance=entrance,
                     priority="3", subject="Loan application needs review (Python example)",
                     body="Sent by examples/python/send_work_item.py.")
    contact_data = ET.SubElement(create, "contactData")
    ET.SubElement(contact_data, "item", key="WorkItemTask").text = "loan-review"
    ET.SubElement(contact_data, "item", key="CaseUrl").text = f"https://bank.example/cases/{external_id}"
    update = element("updateWorkItem", {"version": "1", "revision": "1"},
                     externalId=external_id, source=source, priority="8")
    cancel = element("cancelWorkItem", {"version": "1"}, externalId=external_id, source=source)

    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as err:
        print(f"FAILED: cannot connect to {redact(url)}: {err!r}")
        return 2
    try:
        sender = Sender(connection.channel(), receipt_timeout)
        print(f"connected to {redact(url)}, source {source}, externalId {external_id}")
        ok = sender.step("create", source, create, "accepted")
        ok = sender.step("update", source, update, "updated") and ok
        ok = sender.step("cancel", source, cancel, "cancelled") and ok
    except (pika.exceptions.AMQPError, RuntimeError, TimeoutError) as err:
        # e.g. ChannelClosedByBroker 404 NOT_FOUND: the exchange does not exist (the service never ran on this vhost)
        print(f"FAILED: {err!r}")
        return 2
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    print("OK: accepted, updated, cancelled" if ok else "FAILED: a receipt was missing or not as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
