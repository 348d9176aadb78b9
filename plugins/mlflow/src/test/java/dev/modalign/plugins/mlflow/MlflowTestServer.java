package dev.modalign.plugins.mlflow;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.mlflow_project.google.gson.JsonObject;
import org.mlflow_project.google.gson.JsonParser;

/** A private MLflow 2.17.2 server on a free 127.0.0.1 port, from the venv that scripts/mlflow-server installs. */
final class MlflowTestServer implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Path dir;
    private final int port;
    private Process process;

    MlflowTestServer(Path dir) throws IOException {
        this.dir = dir;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            this.port = socket.getLocalPort();
        }
        start();
    }

    static Path executable() {
        Path here = Path.of("").toAbsolutePath();
        while (here != null && !Files.exists(here.resolve("scripts/mlflow-server"))) {
            here = here.getParent();
        }
        if (here == null) {
            throw new IllegalStateException("cannot find the repository root (scripts/mlflow-server) above "
                    + Path.of("").toAbsolutePath());
        }
        Path mlflow = here.resolve(".modalign/mlflow/venv/bin/mlflow");
        if (!Files.isExecutable(mlflow)) {
            throw new IllegalStateException("these tests run a real MLflow server, and " + mlflow
                    + " is missing: run `scripts/mlflow-server install` in " + here + " first");
        }
        return mlflow;
    }

    void start() throws IOException {
        Files.createDirectories(dir.resolve("artifacts"));
        process = new ProcessBuilder(executable().toString(), "server", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--workers", "1", "--backend-store-uri", "sqlite:///" + dir.resolve("mlflow.db"),
                "--serve-artifacts", "--artifacts-destination", dir.resolve("artifacts").toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.log").toFile()))
                .start();
        long deadline = System.currentTimeMillis() + 90_000;
        while (!healthy()) {
            if (!process.isAlive() || System.currentTimeMillis() > deadline) {
                String log = Files.readString(dir.resolve("server.log"));
                kill();
                throw new IllegalStateException("MLflow did not start on port " + port + ":\n"
                        + log.substring(Math.max(0, log.length() - 3000)));
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    boolean healthy() {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(uri() + "/health")).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Kills the server and its workers at once, as a crash would. */
    void kill() {
        if (process == null) {
            return;
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    String uri() {
        return "http://127.0.0.1:" + port;
    }

    JsonObject get(String pathAndQuery) throws IOException, InterruptedException {
        return JsonParser.parseString(text(pathAndQuery)).getAsJsonObject();
    }

    String text(String pathAndQuery) throws IOException, InterruptedException {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(uri() + pathAndQuery)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (response.statusCode() != 200) {
            throw new IOException("GET " + pathAndQuery + ": HTTP " + response.statusCode() + " " + response.body());
        }
        return response.body();
    }

    JsonObject post(String path, String json) throws IOException, InterruptedException {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(uri() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (response.statusCode() != 200) {
            throw new IOException("POST " + path + ": HTTP " + response.statusCode() + " " + response.body());
        }
        return JsonParser.parseString(response.body()).getAsJsonObject();
    }

    @Override
    public void close() {
        kill();
    }
}
