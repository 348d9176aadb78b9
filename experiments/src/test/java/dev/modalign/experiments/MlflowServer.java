package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A real MLflow server on a free port, started and stopped with the project's own script, and its REST API. */
final class MlflowServer {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Path dir;
    private final int port;

    private MlflowServer(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    static MlflowServer start() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        MlflowServer server = new MlflowServer(Files.createTempDirectory("modalign-mlflow-e2e"), port);
        server.script("start");
        return server;
    }

    void stop() throws Exception {
        script("stop");
    }

    String uri() {
        return "http://127.0.0.1:" + port;
    }

    private void script(String command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(Cli.repo().resolve("scripts/mlflow-server").toString(), command, "--port",
                Integer.toString(port), "--dir", dir.toString()).inheritIO().start();
        if (!process.waitFor(300, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("scripts/mlflow-server " + command + " failed; see the output above");
        }
    }

    /** A REST call that must answer 200; its JSON body. */
    JsonObject call(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(uri() + path)).timeout(Duration.ofSeconds(30));
        request = body == null ? request.GET() : request.method(method, HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), path + ": " + response.body());
        return response.body().isBlank() ? new JsonObject() : JsonParser.parseString(response.body()).getAsJsonObject();
    }

    /** Every run of an experiment known by name. */
    JsonArray runsOf(String experiment) throws Exception {
        String experimentId = experimentId(experiment);
        return call("POST", "/api/2.0/mlflow/runs/search", "{\"experiment_ids\": [\"" + experimentId + "\"]}")
                .getAsJsonArray("runs");
    }

    String experimentId(String experiment) throws Exception {
        return call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + experiment, null)
                .getAsJsonObject("experiment").get("experiment_id").getAsString();
    }

    /** A run's params, tags or metrics ({@code field}) as key to value. */
    static Map<String, String> entries(JsonObject run, String field) {
        JsonObject data = run.getAsJsonObject("data");
        Map<String, String> out = new HashMap<>();
        JsonArray array = data.has(field) ? data.getAsJsonArray(field) : new JsonArray();
        for (JsonElement element : array) {
            out.put(element.getAsJsonObject().get("key").getAsString(), element.getAsJsonObject().get("value").getAsString());
        }
        return out;
    }
}
