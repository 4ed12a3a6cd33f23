#!/usr/bin/env python3
"""A sender that follows its work item (contract 1.2), using pika (1.x; Debian's python3-pika or `pip install pika`).

It subscribes to its lifecycle notifications, sends a <workItem>, holds it (<holdWorkItem>) and resumes it
(<resumeWorkItem>), printing each receipt, asks for its status (<getWorkItem>, printing the <workItemInfo>), and then
waits for the notification that the item ended (an agent pressed End) and prints it with the agent's disposition.
Every notification that arrives meanwhile is printed once (they are delivered at least once: dedupe on message_id).

Exit code 0 when the receipts are accepted, held and resumed, the status query is answered and the ended
notification came; 1 when one is missing (timeout) or different; 2 on a connection or publishing problem.

    python3 examples/python/follow_work_item.py [amqp://user:pass@host:5672/vhost]

Settings: the first argument or AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), WORKITEM_SOURCE (default
bank-support), WORKITEM_ENTRANCE (default loans), RECEIPT_TIMEOUT_SECONDS (default 15), NOTIFICATION_TIMEOUT_SECONDS
(default 300: how long to wait for the end; meanwhile end it with `./workitem end <contactId>`).

Broker permissions: the sender user of rabbitmq/definitions.json (user = source) is enough. It may publish to
workitem.inbound with routing key workitem.<source>, declare server-named queues (amq.gen-*) and bind them to
workitem.notifications with the keys <event>.<source>; the broker refuses any other key (403 ACCESS_REFUSED).
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

INBOUND_EXCHANGE = "workitem.inbound"
NOTIFICATIONS_EXCHANGE = "workitem.notifications"
# Every event of contract 1.2. The broker checks the topic read permission (^[a-z]+\.<source>$) against the binding
# key as written, so a wildcard key such as *.<source> is refused: bind each event you want by name.
EVENTS = ("routed", "buffered", "held", "resumed", "ended", "cancelled", "expired", "overdue")
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


def one_line(xml):
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", xml).strip()


class Follower:
    def __init__(self, channel, source, receipt_timeout):
        self.channel = channel
        self.source = source
        self.receipt_timeout = receipt_timeout
        self.replies = {}
        self.seen = set()  # notification ids already handled; a long-running sender keeps them for a day or so
        self.ended = {}  # externalId -> its ended notification
        channel.confirm_delivery()
        # Receipts and status replies: a server-named, exclusive queue that goes away with this connection.
        self.reply_queue = channel.queue_declare(queue="", exclusive=True).method.queue
        channel.basic_consume(self.reply_queue, self._on_reply, auto_ack=True)
        # Notifications: another server-named, exclusive queue, bound with one key per event of this source. A sender
        # that must not miss one while it is not connected asks the operators for a durable queue bound the same way.
        self.notification_queue = channel.queue_declare(queue="", exclusive=True).method.queue
        keys = [f"{event}.{source}" for event in EVENTS]
        for key in keys:
            channel.queue_bind(self.notification_queue, NOTIFICATIONS_EXCHANGE, routing_key=key)
        channel.basic_consume(self.notification_queue, self._on_notification)  # acked once handled
        print(f"subscribed to {NOTIFICATIONS_EXCHANGE}: {', '.join(keys)}")

    def _on_reply(self, _channel, _method, properties, body):
        self.replies[properties.correlation_id] = body.decode("utf-8")

    def _on_notification(self, channel, method, properties, body):
        message_id = properties.message_id
        if message_id in self.seen:  # published again after a crash, or redelivered: handled already
            print(f"(notification {message_id} again: ignored)")
        else:
            self.seen.add(message_id)
            xml = body.decode("utf-8")
            n = ET.fromstring(xml)  # the service's notifications carry no DOCTYPE; ElementTree resolves no external entities
            line = (f"notification: event={n.get('event')} externalId={n.get('externalId')} "
                    f"contactId={n.get('contactId')} entrance={n.get('entrance')} at={n.get('at')} messageId={message_id}")
            if n.get("reason"):
                line += f" reason='{n.get('reason')}'"
            disposition = n.find("disposition")
            if disposition is not None:
                line += f" disposition={disposition.get('code')} text='{(disposition.text or '').strip()}'"
            print(line)
            print("  " + one_line(xml))
            if n.get("event") == "ended":
                self.ended[n.get("externalId")] = n
        channel.basic_ack(method.delivery_tag)

    def publish(self, body):
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
                self.channel.basic_publish(INBOUND_EXCHANGE, f"workitem.{self.source}", body, properties, mandatory=True)
        except pika.exceptions.UnroutableError as err:
            raise RuntimeError(
                "the broker returned the message (nothing bound for the routing key): is the work-item server "
                "running on this vhost (it binds the queue workitem.inbound)?"
            ) from err
        return correlation_id

    def wait(self, seconds, done):
        """Handles deliveries (replies, notifications) until done() or the time is up; returns done()."""
        end = time.monotonic() + seconds
        while not done():
            left = end - time.monotonic()
            if left <= 0:
                break
            self.channel.connection.process_data_events(time_limit=min(left, 1.0))
        return done()

    def request(self, name, el):
        """Publishes el and returns the parsed answer to its reply_to, or None (printed) after the receipt timeout."""
        correlation_id = self.publish(to_bytes(el))
        if not self.wait(self.receipt_timeout, lambda: correlation_id in self.replies):
            print(f"{name}: no answer within {self.receipt_timeout} s (correlation_id {correlation_id})")
            return None
        xml = self.replies.pop(correlation_id)
        return ET.fromstring(xml), xml

    def step(self, name, el, expected):
        """One message with a receipt: prints it; the contactId when its status is the expected one, else None."""
        answer = self.request(name, el)
        if answer is None:
            return None
        root, xml = answer
        status = root.get("status")
        error = root.find("error")
        line = f"{name}: status={status} contactId={root.get('contactId') or '-'} error="
        line += "-" if error is None else f"{error.get('code')} path={error.get('path')} message={(error.text or '').strip()}"
        print(line)
        print("  " + one_line(xml))
        if status != expected:
            print(f"{name}: expected status {expected}, got {status}")
            return None
        return root.get("contactId")

    def query(self, el):
        """The status query: prints the <workItemInfo> (or the NOT_FOUND receipt); True for a workItemInfo."""
        answer = self.request("get", el)
        if answer is None:
            return False
        root, xml = answer
        if root.tag != "workItemInfo":
            error = root.find("error")
            print(f"get: no workItemInfo: status={root.get('status')} error={error.get('code') if error is not None else '-'}")
            print("  " + one_line(xml))
            return False
        steps = ",".join(s.get("name") for s in root.findall("step"))
        extra = "".join(f" {a}={root.get(a)}" for a in ("entrance", "priority", "heldUntil") if root.get(a))
        print(f"get: state={root.get('state')} contactId={root.get('contactId')}{extra} steps={steps or '-'}")
        print("  " + one_line(xml))
        return True


def redact(url):
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def main(argv):
    url = argv[1] if len(argv) > 1 else os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672"
    source = os.environ.get("WORKITEM_SOURCE") or "bank-support"
    entrance = os.environ.get("WORKITEM_ENTRANCE") or "loans"
    receipt_timeout = float(os.environ.get("RECEIPT_TIMEOUT_SECONDS") or "15")
    notification_timeout = float(os.environ.get("NOTIFICATION_TIMEOUT_SECONDS") or "300")
    external_id = f"PY-{uuid.uuid4()}"  # a fresh item every run

    params = pika.URLParameters(url)  # user, password, host, port and vhost (the path, URL-decoded)
    params.socket_timeout = 10
    params.stack_timeout = 15
    params.blocked_connection_timeout = 30
    params.heartbeat = 30
    params.connection_attempts = 1
    params.client_properties = {"connection_name": "workitem-example-follower-python"}

    create = element("workItem", {"version": "1"}, externalId=external_id, source=source, entrance=entrance,
                     subject="Loan application needs review (Python follower example)",
                     body="Sent by examples/python/follow_work_item.py.")
    contact_data = ET.SubElement(create, "contactData")
    ET.SubElement(contact_data, "item", key="WorkItemTask").text = "loan-review"
    identity = {"externalId": external_id, "source": source}
    hold = element("holdWorkItem", {"version": "1"}, **identity, reason="Waiting for the customer's documents")
    resume = element("resumeWorkItem", {"version": "1"}, **identity)
    get = element("getWorkItem", {"version": "1"}, **identity)

    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as err:
        print(f"FAILED: cannot connect to {redact(url)}: {err!r}")
        return 2
    try:
        print(f"connected to {redact(url)}, source {source}, externalId {external_id}")
        follower = Follower(connection.channel(), source, receipt_timeout)
        contact_id = follower.step("create", create, "accepted")
        ok = contact_id is not None
        ok = follower.step("hold", hold, "held") is not None and ok
        ok = follower.step("resume", resume, "resumed") is not None and ok
        ok = follower.query(get) and ok
        if contact_id is not None:
            print(f"waiting up to {notification_timeout:g} s for the ended notification of {external_id} "
                  f"(end it in the contact center, or: ./workitem end {contact_id})")
            if not follower.wait(notification_timeout, lambda: external_id in follower.ended):
                print(f"notification: no ended notification within {notification_timeout:g} s")
                ok = False
    except (pika.exceptions.AMQPError, RuntimeError, TimeoutError) as err:
        # e.g. ChannelClosedByBroker 403 ACCESS_REFUSED: the user may not bind that key; 404: no such exchange
        print(f"FAILED: {err!r}")
        return 2
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    print("OK: accepted, held, resumed, workItemInfo, ended" if ok else "FAILED: an answer was missing or not as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
