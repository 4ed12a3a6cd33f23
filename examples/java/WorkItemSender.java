import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DeliverCallback;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.ShutdownSignalException;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * An example sender for the work-item server, using the RabbitMQ Java client (com.rabbitmq:amqp-client 5.x).
 *
 * It sends a {@code <workItem>}, an {@code <updateWorkItem revision="1">} that raises its priority, and a
 * {@code <cancelWorkItem>}, and prints each receipt. Exit code 0 when the receipts are accepted, updated and
 * cancelled; 1 when one is missing (timeout) or has another status; 2 on a connection or publishing problem.
 *
 * <pre>
 *   CP=/usr/share/java/amqp-client.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar
 *   javac -d /tmp/sender -cp "$CP" examples/java/WorkItemSender.java
 *   java -cp "/tmp/sender:$CP" WorkItemSender [amqp://user:pass@host:5672/vhost]
 * </pre>
 *
 * Settings: the first argument or AMQP_URL (default amqp://guest:guest@127.0.0.1:5672; the vhost is the URL's
 * path, URL-encoded), WORKITEM_SOURCE (default bank-support), WORKITEM_ENTRANCE (default loans),
 * RECEIPT_TIMEOUT_SECONDS (default 15).
 *
 * The XML is written by hand here to keep the example to one file; a real sender would generate classes from
 * schemas/workitem-v1.xsd (xjc) and marshal them.
 */
public final class WorkItemSender {
    static final String EXCHANGE = "workitem.inbound";

    private final Channel channel;
    private final String replyQueue;
    private final long receiptTimeoutMs;
    private final BlockingQueue<Delivery> replies = new LinkedBlockingQueue<>();
    /** The broker's basic.return for the last publish: nothing is bound for that routing key. */
    private final AtomicReference<String> returned = new AtomicReference<>();

    WorkItemSender(Channel channel, long receiptTimeoutMs) throws Exception {
        this.channel = channel;
        this.receiptTimeoutMs = receiptTimeoutMs;
        // Publisher confirms: a publish counts only once the broker has taken responsibility for it.
        channel.confirmSelect();
        // With mandatory, a message no queue takes comes back (basic.return, before its confirm).
        channel.addReturnListener((replyCode, replyText, exchange, routingKey, props, body) ->
                returned.set(replyCode + " " + replyText + " (exchange " + exchange + ", routing key " + routingKey + ")"));
        // A server-named, exclusive, auto-delete queue for the receipts: it goes away with this connection.
        // (A sender that must never miss a receipt also binds a durable queue of its own to workitem.receipts
        // with the routing key *.<source>; see the README, "For sender developers".)
        this.replyQueue = channel.queueDeclare("", false, true, true, null).getQueue();
        DeliverCallback onReceipt = (consumerTag, delivery) -> replies.add(delivery);
        channel.basicConsume(replyQueue, true, onReceipt, consumerTag -> { });
    }

    /** Publishes one message and waits (bounded) for the broker's confirm; throws if it was returned or nacked. */
    String publish(String source, String xml) throws Exception {
        String correlationId = UUID.randomUUID().toString();
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .contentType("application/xml")
                .deliveryMode(2) // persistent
                .replyTo(replyQueue)
                .correlationId(correlationId)
                .messageId(UUID.randomUUID().toString())
                .timestamp(new java.util.Date())
                .build();
        returned.set(null);
        channel.basicPublish(EXCHANGE, "workitem." + source, true, props, xml.getBytes(StandardCharsets.UTF_8));
        channel.waitForConfirmsOrDie(10_000); // throws on a nack or after 10 s
        String why = returned.get();
        if (why != null) {
            throw new IllegalStateException("the broker returned the message: " + why
                    + "; is the work-item server running on this vhost (it binds the queue workitem.inbound)?");
        }
        return correlationId;
    }

    /** Waits up to the receipt timeout for the receipt whose correlation_id matches; null if none came. */
    Receipt awaitReceipt(String correlationId) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(receiptTimeoutMs);
        for (;;) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return null;
            Delivery d = replies.poll(left, TimeUnit.NANOSECONDS);
            if (d == null) return null;
            String xml = new String(d.getBody(), StandardCharsets.UTF_8);
            if (correlationId.equals(d.getProperties().getCorrelationId())) return Receipt.parse(xml);
            System.out.println("(ignoring a receipt for another message: " + xml + ")");
        }
    }

    /** One step: publish, wait for the receipt, print it; true when its status is the expected one. */
    boolean step(String name, String source, String xml, String expectedStatus) throws Exception {
        String correlationId = publish(source, xml);
        Receipt r = awaitReceipt(correlationId);
        if (r == null) {
            System.out.println(name + ": no receipt within " + receiptTimeoutMs + " ms (correlation_id " + correlationId + ")");
            return false;
        }
        System.out.println(name + ": status=" + r.status + " contactId=" + dash(r.contactId) + " error=" + dash(r.errorCode)
                + (r.errorCode == null ? "" : " path=" + r.errorPath + " message=" + r.errorMessage));
        System.out.println("  " + r.xml.replaceFirst("^\\s*<\\?xml[^>]*\\?>", "").trim());
        if (!expectedStatus.equals(r.status)) {
            System.out.println(name + ": expected status " + expectedStatus + ", got " + r.status);
            if ("buffered".equals(r.status)) {
                System.out.println("  (buffered: the entrance is closed or nobody listens on contact.events for it;"
                        + " start a contact center or `./workitem watch`)");
            }
            return false;
        }
        return true;
    }

    public static void main(String[] args) throws Exception {
        String url = args.length > 0 ? args[0] : env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672");
        String source = env("WORKITEM_SOURCE", "bank-support");
        String entrance = env("WORKITEM_ENTRANCE", "loans");
        long timeoutMs = Long.parseLong(env("RECEIPT_TIMEOUT_SECONDS", "15")) * 1000L;
        String externalId = "JAVA-" + UUID.randomUUID(); // a fresh item every run

        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(url); // user, password, host, port and vhost (the path, URL-decoded)
        factory.setConnectionTimeout(10_000);
        factory.setHandshakeTimeout(10_000);
        factory.setRequestedHeartbeat(30);
        factory.setAutomaticRecoveryEnabled(false); // an example: fail loudly instead of retrying

        boolean ok;
        try (Connection connection = factory.newConnection("workitem-example-sender-java");
             Channel channel = connection.createChannel()) {
            WorkItemSender sender = new WorkItemSender(channel, timeoutMs);
            System.out.println("connected to " + redact(url) + ", source " + source + ", externalId " + externalId);

            String create = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    + "<workItem version=\"1\">"
                    + el("externalId", externalId) + el("source", source) + el("entrance", entrance)
                    + el("priority", "3")
                    + el("subject", "Loan application needs review (Java example)")
                    + el("body", "Sent by examples/java/WorkItemSender.java.")
                    + "<contactData>"
                    + "<item key=\"WorkItemTask\">loan-review</item>"
                    + "<item key=\"CaseUrl\">" + esc("https://bank.example/cases/" + externalId) + "</item>"
                    + "</contactData>"
                    + "</workItem>";
            String update = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    + "<updateWorkItem version=\"1\" revision=\"1\">"
                    + el("externalId", externalId) + el("source", source) + el("priority", "8")
                    + "</updateWorkItem>";
            String cancel = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    + "<cancelWorkItem version=\"1\">" + el("externalId", externalId) + el("source", source)
                    + "</cancelWorkItem>";

            ok = sender.step("create", source, create, "accepted");
            ok &= sender.step("update", source, update, "updated");
            ok &= sender.step("cancel", source, cancel, "cancelled");
        } catch (ShutdownSignalException e) {
            // e.g. 404 NOT_FOUND: the exchange does not exist (the service never ran on this vhost)
            System.out.println("FAILED: the broker closed the channel or connection: " + e.getMessage());
            System.exit(2);
            return;
        } catch (Exception e) {
            // The client wraps the broker's reason (wrong credentials, no such vhost, ...) in the cause.
            StringBuilder why = new StringBuilder(e.toString());
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) why.append("; caused by ").append(c);
            System.out.println("FAILED: " + why);
            System.exit(2);
            return;
        }
        System.out.println(ok ? "OK: accepted, updated, cancelled" : "FAILED: a receipt was missing or not as expected");
        System.exit(ok ? 0 : 1);
    }

    /** What the receipt says; the receipt is flat: one element and at most one error child. */
    static final class Receipt {
        String xml, status, contactId, errorCode, errorPath, errorMessage;

        static Receipt parse(String xml) throws Exception {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            // Hardened like any parser of messages from the network: no DOCTYPE, no external anything.
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            f.setExpandEntityReferences(false);
            Document doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
            Element root = doc.getDocumentElement();
            Receipt r = new Receipt();
            r.xml = xml;
            r.status = attr(root, "status");
            r.contactId = attr(root, "contactId");
            NodeList errors = root.getElementsByTagName("error");
            if (errors.getLength() > 0) {
                Element e = (Element) errors.item(0);
                r.errorCode = attr(e, "code");
                r.errorPath = attr(e, "path");
                r.errorMessage = e.getTextContent().trim();
            }
            return r;
        }

        private static String attr(Element e, String name) {
            return e.hasAttribute(name) ? e.getAttribute(name) : null;
        }
    }

    static String el(String name, String text) {
        return "<" + name + ">" + esc(text) + "</" + name + ">";
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    static String dash(String s) {
        return s == null ? "-" : s;
    }

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    static String redact(String url) {
        return url.replaceFirst("//([^:/@]+):[^@]*@", "//$1:***@");
    }
}
