import HTTP
import JSONOutput
import NetworkTypes

/// `--emit requests`: one JSON object per request, written when its transaction completes
/// (so `status` is known), in request order per connection.
public final class RequestJSONEmitter: HTTPTransactionSink {
    private let output: BufferedFileOutput
    private var writer = JSONWriter(capacity: 4096)
    public private(set) var emitted = 0
    private var endpointsOf: UInt64 = 0
    private var endpoints = ("", "")

    public init(output: BufferedFileOutput) {
        self.output = output
    }

    public func requestCompleted(_ transaction: HTTPTransaction) {}

    public func transactionCompleted(_ transaction: HTTPTransaction) {
        writer.reset()
        if transaction.connection.id != endpointsOf {
            // Formatting addresses is costly; a connection's requests share them.
            endpointsOf = transaction.connection.id
            endpoints = (transaction.client.description, transaction.server.description)
        }
        Self.encode(transaction, endpoints: endpoints, into: &writer)
        writer.newline()
        output.write(writer.bytes)
        emitted += 1
    }

    public static func encode(_ transaction: HTTPTransaction, endpoints: (String, String)? = nil, into writer: inout JSONWriter) {
        let request = transaction.request
        let head = request.head
        writer.beginObject()
        writer.key("ts"); writer.number(literal: request.startTime.decimalString)
        writer.key("src"); writer.string(endpoints?.0 ?? transaction.client.description)
        writer.key("dst"); writer.string(endpoints?.1 ?? transaction.server.description)
        writer.key("method"); writer.string(head.bytes(head.startLine.0))
        writer.key("target"); writer.string(head.bytes(head.startLine.1))
        writer.key("version"); writer.string(request.version.description)
        writer.key("headers")
        writer.beginArray()
        for field in head.fields {
            writer.beginArray()
            writer.string(head.bytes(field.name))
            writer.string(head.bytes(field.value))
            writer.endArray()
        }
        writer.endArray()
        writer.key("body_b64"); writer.string(Base64.encode(request.body))
        writer.key("status")
        if let status = transaction.status { writer.number(status) } else { writer.null() }
        writer.key("anomalies")
        writer.beginArray()
        for name in request.anomalies.names { writer.string(name) }
        writer.endArray()
        writer.key("flow_id"); writer.number(transaction.connection.id)
        writer.key("tx_id"); writer.number(transaction.index)
        writer.key("body_length"); writer.number(request.bodyLength)
        writer.key("body_truncated"); writer.bool(request.bodyTruncated)
        if !request.trailers.isEmpty {
            writer.key("trailers")
            writer.beginArray()
            for (name, value) in request.trailers {
                writer.beginArray(); writer.string(name); writer.string(value); writer.endArray()
            }
            writer.endArray()
        }
        writer.endObject()
    }
}

/// `--emit none`: parse everything, print nothing (benchmarks, validation).
public final class DiscardingSink: HTTPTransactionSink {
    public init() {}
    public func requestCompleted(_ transaction: HTTPTransaction) {}
    public func transactionCompleted(_ transaction: HTTPTransaction) {}
}
