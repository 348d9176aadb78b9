package dev.modalign.plugins.mlflow;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.StringJoiner;
import org.mlflow_project.google.gson.JsonObject;
import org.mlflow_project.google.gson.JsonParser;

/**
 * MLflow's REST API over {@link HttpClient}, which the MLflow Java client's transport lacks in four
 * ways that matter here: every request has a connect and a response timeout; a 4xx other than 429 is
 * refused at once ({@link RequestRejectedException}) instead of being retried; credentials come from
 * MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic);
 * artifacts are uploaded by HTTP PUT to the server's artifact proxy instead of by the Python CLI.
 *
 * <p>The credentials live only in {@link #authorization} and go only into request headers; no message
 * or {@code toString} of this class contains them.
 */
final class MlflowRestApi {

    private final URI base;
    private final Duration timeout;
    private final String authorization;
    private final HttpClient http;

    MlflowRestApi(URI base, Duration timeout, Map<String, String> environment) {
        String text = base.toString();
        this.base = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
        this.timeout = timeout;
        this.authorization = authorization(environment);
        this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    private static String authorization(Map<String, String> environment) {
        String token = environment.get("MLFLOW_TRACKING_TOKEN");
        if (token != null && !token.isEmpty()) {
            return "Bearer " + token;
        }
        String user = environment.get("MLFLOW_TRACKING_USERNAME");
        String password = environment.get("MLFLOW_TRACKING_PASSWORD");
        if (user != null && password != null) {
            return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        }
        return null;
    }

    URI base() {
        return base;
    }

    /** A POST of a JSON body to {@code /api/2.0/mlflow/<endpoint>}; returns the answer's JSON text. */
    String post(String endpoint, String json) throws ServerUnavailableException {
        HttpRequest.Builder request = request("/api/2.0/mlflow/" + endpoint)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8));
        return send(request, "POST " + endpoint);
    }

    /** A GET of {@code /api/2.0/mlflow/<endpoint>?query}; returns the answer's JSON text. */
    String get(String endpoint, Map<String, String> query) throws ServerUnavailableException {
        StringJoiner joined = new StringJoiner("&", "?", "");
        query.forEach((key, value) -> joined.add(encode(key) + "=" + encode(value)));
        return send(request("/api/2.0/mlflow/" + endpoint + joined).GET(), "GET " + endpoint);
    }

    /** Uploads a file through the server's artifact proxy ({@code mlflow server --serve-artifacts}). */
    void putArtifact(String proxiedPath, Path file) throws ServerUnavailableException {
        HttpRequest.BodyPublisher body;
        try {
            body = HttpRequest.BodyPublishers.ofFile(file);
        } catch (FileNotFoundException e) {
            throw new RequestRejectedException(0, null, "the spooled copy " + file + " is missing");
        }
        send(request("/api/2.0/mlflow-artifacts/artifacts/" + proxiedPath)
                .header("Content-Type", "application/octet-stream").PUT(body), "PUT artifact " + proxiedPath);
    }

    /** Downloads a text artifact through the server's artifact proxy. */
    String getArtifact(String proxiedPath) throws ServerUnavailableException {
        return send(request("/api/2.0/mlflow-artifacts/artifacts/" + proxiedPath).GET(), "GET artifact " + proxiedPath);
    }

    /** Downloads a (binary) artifact through the server's artifact proxy into {@code target}. */
    void downloadArtifact(String proxiedPath, Path target) throws ServerUnavailableException {
        String what = "GET artifact " + proxiedPath;
        HttpResponse<Path> response;
        try {
            response = http.send(request("/api/2.0/mlflow-artifacts/artifacts/" + proxiedPath).GET().build(),
                    HttpResponse.BodyHandlers.ofFile(target));
        } catch (IOException e) {
            throw new ServerUnavailableException(what + ": no answer from " + base + " (" + describe(e) + ")", false, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ServerUnavailableException(what + ": interrupted", false, e);
        }
        if (response.statusCode() != 200) {
            throw new RequestRejectedException(response.statusCode(), null, what + " refused: HTTP " + response.statusCode());
        }
    }

    /** Whether the server answers {@code /health}; for waiting until it is up. */
    boolean healthy() {
        try {
            send(request("/health").GET(), "GET /health");
            return true;
        } catch (ServerUnavailableException | RequestRejectedException e) {
            return false;
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout);
        if (authorization != null) {
            builder.header("Authorization", authorization);
        }
        return builder;
    }

    private String send(HttpRequest.Builder request, String what) throws ServerUnavailableException {
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (ConnectException | HttpConnectTimeoutException e) {
            // Nothing reached the server: sending again cannot duplicate anything.
            throw new ServerUnavailableException(what + ": cannot connect to " + base + " (" + describe(e) + ")", false, e);
        } catch (IOException e) {
            // A timeout or a dropped connection after the request went out: it may have been applied.
            throw new ServerUnavailableException(what + ": no answer from " + base + " (" + describe(e) + ")", true, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ServerUnavailableException(what + ": interrupted", true, e);
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            return response.body();
        }
        String errorCode = null;
        String message = response.body();
        try {
            JsonObject error = JsonParser.parseString(response.body()).getAsJsonObject();
            errorCode = error.has("error_code") ? error.get("error_code").getAsString() : null;
            message = error.has("message") ? error.get("message").getAsString() : message;
        } catch (RuntimeException notJson) {
            // An error page of a proxy or the server's own HTML: keep the body as the message.
        }
        message = message.length() > 500 ? message.substring(0, 500) + "..." : message;
        if (status == 429 || status >= 500) {
            throw new ServerUnavailableException(what + ": HTTP " + status + " from " + base + ": " + message, true, null);
        }
        throw new RequestRejectedException(status, errorCode, what + " refused: " + message);
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public String toString() {
        return "MLflow REST API at " + base + (authorization == null ? "" : " (with credentials)");
    }
}
