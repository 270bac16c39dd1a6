package io.actorvm.control.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;

/**
 * Every error of the control API is JSON {@code {"fault_message": "..."}}, as Firecracker's: route
 * rejections (unknown path, wrong method, bad parameter, entity too large), exceptions, and
 * requests too malformed to reach a route (a broken request line or header, which pekko-http
 * answers itself through {@link ParsingErrors}). The message is one line.
 */
final class ApiFaults {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ApiFaults() {
    }

    static HttpResponse fault(StatusCode status, String message) {
        return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, body(message));
    }

    static String body(String message) {
        String line = message == null || message.isBlank() ? "request refused" : message.strip().replaceAll("\\s*\\R\\s*", " ");
        return JsonNodeFactory.instance.objectNode().put("fault_message", line).toString();
    }

    /** pekko-http's rejection answers, each with its text moved into a fault_message. */
    static RejectionHandler rejections() {
        return RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
            if (response.entity().getContentType().equals(ContentTypes.APPLICATION_JSON)) return response;
            String text = response.entity() instanceof org.apache.pekko.http.javadsl.model.HttpEntity.Strict strict
                    ? strict.getData().utf8String() : response.status().reason();
            return response.withEntity(ContentTypes.APPLICATION_JSON, body(text));
        });
    }

    /** Anything a route throws: 500 with its message (the VM is not affected). */
    static ExceptionHandler exceptions() {
        return ExceptionHandler.newBuilder()
                .match(MicroVm.NotAllowed.class, e -> org.apache.pekko.http.javadsl.server.Directives.complete(
                        fault(StatusCodes.BAD_REQUEST, e.getMessage())))
                .matchAny(e -> org.apache.pekko.http.javadsl.server.Directives.complete(
                fault(StatusCodes.INTERNAL_SERVER_ERROR, e.getMessage() != null ? e.getMessage() : e.toString()))).build();
    }

    /** Parse failures below the routes (bad request line, header, chunk): named by pekko.http.server.parsing.error-handler. */
    public static final class ParsingErrors extends ParsingErrorHandler {
        @Override
        public HttpResponse handle(org.apache.pekko.http.scaladsl.model.StatusCode status, ErrorInfo info, LoggingAdapter log,
                                   ServerSettings settings) {
            // A method nobody knows is pekko's 501; to a client it is a bad request like any other.
            int code = status.intValue() == 501 ? 400 : status.intValue();
            return fault(StatusCodes.get(code), info.summary());
        }
    }

    static ObjectMapper json() {
        return JSON;
    }
}
