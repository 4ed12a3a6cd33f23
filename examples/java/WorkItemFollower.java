import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.ShutdownSignalException;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;

import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * A sender that follows its work item (contract 1.2), using the RabbitMQ Java client (com.rabbitmq:amqp-client 5.x).
 *
 * It subscribes to its lifecycle notifications, sends a {@code <workItem>}, holds it ({@code <holdWorkItem>}) and
 * resumes it ({@code <resumeWorkItem>}), printing each receipt, asks for its status ({@code <getWorkItem>}, printing
 * the {@code <workItemInfo>}), and then waits for the notification that the item ended (an agent pressed End) and
 * prints it with the agent's disposition. Every notification that arrives meanwhile is printed once (they are
 * delivered at least once: dedupe on message_id).
 *
 * Exit code 0 when the receipts are accepted, held and resumed, the status query is answered and the ended
 * notification came; 1 when one is missing (timeout) or different; 2 on a connection or publishing problem.
 *
 * <pre>
 *   CP=/usr/share/java/amqp-client.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar
 *   java -cp "$CP" examples/java/WorkItemFollower.java [amqp://user:pass@host:5672/vhost]   # Java 11+: no javac step
 * </pre>
 *
 * Settings: the first argument or AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), WORKITEM_SOURCE (default
 * bank-support), WORKITEM_ENTRANCE (default loans), RECEIPT_TIMEOUT_SECONDS (default 15),
 * NOTIFICATION_TIMEOUT_SECONDS (default 300: how long to wait for the end; meanwhile end it with
 * {@code ./workitem end <contactId>}).
 *
 * Broker permissions: the sender user of rabbitmq/definitions.json (user = source) is enough. It may publish to
 * workitem.inbound with routing key workitem.&lt;source&gt;, declare server-named queues (amq.gen-*) and bind them to
 * workitem.notifications with the keys &lt;event&gt;.&lt;source&gt;; the broker refuses any other key (403 ACCESS_REFUSED).
 */
public final class WorkItemFollower {
    static final String INBOUND_EXCHANGE = "workitem.inbound";
    static final String NOTIFICATIONS_EXCHANGE = "workitem.notifications";
    /**
     * Every event of contract 1.2. The broker checks the topic read permission (^[a-z]+\.&lt;source&gt;$) against the
     * binding key as written, so a wildcard key such as *.&lt;source&gt; is refused: bind each event you want by name.
     */
    static final String[] EVENTS = {"routed", "buffered", "held", "resumed", "ended", "cancelled", "expired", "overdue"};

    private final Channel channel;
    private final String source;
    private final String replyQueue;
    private final long receiptTimeoutMs;
    private final BlockingQueue<Delivery> replies = new LinkedBlockingQueue<>();
    private final AtomicReference<String> returned = new AtomicReference<>();
    /** Notification ids already handled; a long-running sender keeps them for a day or so (or in its database). */
    private final Set<String> seen = ConcurrentHashMap.newKeySet();
    /** externalId -> a latch released by its ended notification. */
    private final Map<String, CountDownLatch> ended = new ConcurrentHashMap<>();

    WorkItemFollower(Connection connection, Channel channel, String source, long receiptTimeoutMs) throws Exception {
        this.channel = channel;
        this.source = source;
        this.receiptTimeoutMs = receiptTimeoutMs;
        channel.confirmSelect();
        channel.addReturnListener((replyCode, replyText, exchange, routingKey, props, body) ->
                returned.set(replyCode + " " + replyText + " (exchange " + exchange + ", routing key " + routingKey + ")"));
        // Receipts and status replies: a server-named, exclusive queue that goes away with this connection.
        this.replyQueue = channel.queueDeclare("", false, true, true, null).getQueue();
        channel.basicConsume(replyQueue, true, (tag, delivery) -> replies.add(delivery), tag -> { });

        // Notifications, on a channel of their own (acks from the consumer thread never meet a publish): another
        // server-named, exclusive queue, bound with one key per event of this source. A sender that must not miss one
        // while it is not connected asks the operators for a durable queue bound the same way.
        Channel notifications = connection.createChannel();
        String queue = notifications.queueDeclare("", false, true, true, null).getQueue();
        List<String> keys = new ArrayList<>();
        for (String event : EVENTS) {
            String key = event + "." + source;
            notifications.queueBind(queue, NOTIFICATIONS_EXCHANGE, key);
            keys.add(key);
        }
        notifications.basicConsume(queue, false, (tag, delivery) -> {
            onNotification(delivery);
            notifications.basicAck(delivery.getEnvelope().getDeliveryTag(), false); // acked once handled
        }, tag -> { });
        System.out.println("subscribed to " + NOTIFICATIONS_EXCHANGE + ": " + String.join(", ", keys));
    }

    private void onNotification(Delivery delivery) {
        String messageId = delivery.getProperties().getMessageId();
        if (!seen.add(messageId)) { // published again after a crash, or redelivered: handled already
            System.out.println("(notification " + messageId + " again: ignored)");
            return;
        }
        String xml = new String(delivery.getBody(), StandardCharsets.UTF_8);
        try {
            Element n = parse(xml);
            StringBuilder line = new StringBuilder("notification: event=" + n.getAttribute("event")
                    + " externalId=" + n.getAttribute("externalId") + " contactId=" + n.getAttribute("contactId")
                    + " entrance=" + n.getAttribute("entrance") + " at=" + n.getAttribute("at") + " messageId=" + messageId);
            if (n.hasAttribute("reason")) line.append(" reason='").append(n.getAttribute("reason")).append("'");
            NodeList dispositions = n.getElementsByTagName("disposition");
            if (dispositions.getLength() > 0) {
                Element d = (Element) dispositions.item(0);
                line.append(" disposition=").append(d.getAttribute("code"))
                        .append(" text='").append(d.getTextContent().trim()).append("'");
            }
            System.out.println(line);
            System.out.println("  " + oneLine(xml));
            if ("ended".equals(n.getAttribute("event"))) latch(n.getAttribute("externalId")).countDown();
        } catch (Exception e) {
            System.out.println("(notification " + messageId + " unreadable: " + e + ")");
        }
    }

    private CountDownLatch latch(String externalId) {
        return ended.computeIfAbsent(externalId, k -> new CountDownLatch(1));
    }

    /** Publishes with confirms and mandatory; returns the correlation id of the answer to wait for. */
    String publish(String xml) throws Exception {
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
        channel.basicPublish(INBOUND_EXCHANGE, "workitem." + source, true, props, xml.getBytes(StandardCharsets.UTF_8));
        channel.waitForConfirmsOrDie(10_000); // throws on a nack or after 10 s
        String why = returned.get();
        if (why != null) {
            throw new IllegalStateException("the broker returned the message: " + why
                    + "; is the work-item server running on this vhost (it binds the queue workitem.inbound)?");
        }
        return correlationId;
    }

    /** Publishes and returns the answer's XML (to reply_to, matched by correlation_id), or null after the timeout. */
    String request(String name, String xml) throws Exception {
        String correlationId = publish(xml);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(receiptTimeoutMs);
        for (;;) {
            long left = deadline - System.nanoTime();
            Delivery d = left > 0 ? replies.poll(left, TimeUnit.NANOSECONDS) : null;
            if (d == null) {
                System.out.println(name + ": no answer within " + receiptTimeoutMs + " ms (correlation_id " + correlationId + ")");
                return null;
            }
            if (correlationId.equals(d.getProperties().getCorrelationId())) return new String(d.getBody(), StandardCharsets.UTF_8);
        }
    }

    /** One message with a receipt: prints it; the contactId when its status is the expected one, else null. */
    String step(String name, String xml, String expectedStatus) throws Exception {
        String answer = request(name, xml);
        if (answer == null) return null;
        Element r = parse(answer);
        String status = r.getAttribute("status");
        NodeList errors = r.getElementsByTagName("error");
        String error = "-";
        if (errors.getLength() > 0) {
            Element e = (Element) errors.item(0);
            error = e.getAttribute("code") + " path=" + e.getAttribute("path") + " message=" + e.getTextContent().trim();
        }
        System.out.println(name + ": status=" + status + " contactId=" + attrOrDash(r, "contactId") + " error=" + error);
        System.out.println("  " + oneLine(answer));
        if (!expectedStatus.equals(status)) {
            System.out.println(name + ": expected status " + expectedStatus + ", got " + status);
            return null;
        }
        return r.getAttribute("contactId");
    }

    /** The status query: prints the workItemInfo (or the NOT_FOUND receipt); true for a workItemInfo. */
    boolean query(String xml) throws Exception {
        String answer = request("get", xml);
        if (answer == null) return false;
        Element info = parse(answer);
        if (!"workItemInfo".equals(info.getTagName())) {
            NodeList errors = info.getElementsByTagName("error");
            String code = errors.getLength() > 0 ? ((Element) errors.item(0)).getAttribute("code") : "-";
            System.out.println("get: no workItemInfo: status=" + info.getAttribute("status") + " error=" + code);
            System.out.println("  " + oneLine(answer));
            return false;
        }
        List<String> steps = new ArrayList<>();
        NodeList stepElements = info.getElementsByTagName("step");
        for (int i = 0; i < stepElements.getLength(); i++) steps.add(((Element) stepElements.item(i)).getAttribute("name"));
        StringBuilder extra = new StringBuilder();
        for (String a : new String[] {"entrance", "priority", "heldUntil"}) {
            if (info.hasAttribute(a)) extra.append(' ').append(a).append('=').append(info.getAttribute(a));
        }
        System.out.println("get: state=" + info.getAttribute("state") + " contactId=" + info.getAttribute("contactId") + extra
                + " steps=" + (steps.isEmpty() ? "-" : String.join(",", steps)));
        System.out.println("  " + oneLine(answer));
        return true;
    }

    boolean awaitEnded(String externalId, long timeoutMs) throws InterruptedException {
        return latch(externalId).await(timeoutMs, TimeUnit.MILLISECONDS);
    }

    public static void main(String[] args) throws Exception {
        String url = args.length > 0 ? args[0] : env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672");
        String source = env("WORKITEM_SOURCE", "bank-support");
        String entrance = env("WORKITEM_ENTRANCE", "loans");
        long receiptTimeoutMs = Long.parseLong(env("RECEIPT_TIMEOUT_SECONDS", "15")) * 1000L;
        long notificationTimeoutMs = Long.parseLong(env("NOTIFICATION_TIMEOUT_SECONDS", "300")) * 1000L;
        String externalId = "JAVA-" + UUID.randomUUID(); // a fresh item every run

        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(url); // user, password, host, port and vhost (the path, URL-decoded)
        factory.setConnectionTimeout(10_000);
        factory.setHandshakeTimeout(10_000);
        factory.setRequestedHeartbeat(30);
        factory.setAutomaticRecoveryEnabled(false); // an example: fail loudly instead of retrying

        String identity = el("externalId", externalId) + el("source", source);
        String create = "<workItem version=\"1\">" + identity + el("entrance", entrance)
                + el("subject", "Loan application needs review (Java follower example)")
                + el("body", "Sent by examples/java/WorkItemFollower.java.")
                + "<contactData><item key=\"WorkItemTask\">loan-review</item></contactData></workItem>";
        String hold = "<holdWorkItem version=\"1\">" + identity + el("reason", "Waiting for the customer's documents")
                + "</holdWorkItem>";
        String resume = "<resumeWorkItem version=\"1\">" + identity + "</resumeWorkItem>";
        String get = "<getWorkItem version=\"1\">" + identity + "</getWorkItem>";

        boolean ok;
        try (Connection connection = factory.newConnection("workitem-example-follower-java");
             Channel channel = connection.createChannel()) {
            System.out.println("connected to " + redact(url) + ", source " + source + ", externalId " + externalId);
            WorkItemFollower follower = new WorkItemFollower(connection, channel, source, receiptTimeoutMs);
            String contactId = follower.step("create", create, "accepted");
            ok = contactId != null;
            ok &= follower.step("hold", hold, "held") != null;
            ok &= follower.step("resume", resume, "resumed") != null;
            ok &= follower.query(get);
            if (contactId != null) {
                System.out.println("waiting up to " + notificationTimeoutMs / 1000 + " s for the ended notification of "
                        + externalId + " (end it in the contact center, or: ./workitem end " + contactId + ")");
                if (!follower.awaitEnded(externalId, notificationTimeoutMs)) {
                    System.out.println("notification: no ended notification within " + notificationTimeoutMs / 1000 + " s");
                    ok = false;
                }
            }
        } catch (ShutdownSignalException e) {
            // e.g. 403 ACCESS_REFUSED: the user may not bind that key; 404 NOT_FOUND: no such exchange
            System.out.println("FAILED: the broker closed the channel or connection: " + e.getMessage());
            System.exit(2);
            return;
        } catch (Exception e) {
            StringBuilder why = new StringBuilder(e.toString());
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) why.append("; caused by ").append(c);
            System.out.println("FAILED: " + why);
            System.exit(2);
            return;
        }
        System.out.println(ok ? "OK: accepted, held, resumed, workItemInfo, ended"
                : "FAILED: an answer was missing or not as expected");
        System.exit(ok ? 0 : 1);
    }

    /** Parses what the service sent, hardened like any parser of messages from the network. */
    static Element parse(String xml) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setExpandEntityReferences(false);
        return f.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8))).getDocumentElement();
    }

    static String oneLine(String xml) {
        return xml.replaceFirst("^\\s*<\\?xml[^>]*\\?>", "").trim();
    }

    static String attrOrDash(Element e, String name) {
        return e.hasAttribute(name) ? e.getAttribute(name) : "-";
    }

    static String el(String name, String text) {
        return "<" + name + ">" + esc(text) + "</" + name + ">";
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    static String redact(String url) {
        return url.replaceFirst("//([^:/@]+):[^@]*@", "//$1:***@");
    }
}
