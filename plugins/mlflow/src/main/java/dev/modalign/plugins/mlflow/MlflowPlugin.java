package dev.modalign.plugins.mlflow;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import dev.modalign.api.Tracker;
import java.util.List;

/** Records runs in an MLflow tracking server (http and https tracking URIs). */
public final class MlflowPlugin implements Plugin {

    static final ComponentFactory<MlflowTracker.Params, Tracker> MLFLOW = ComponentFactory.of(
            "mlflow",
            "MLflow tracking server (REST API), with an on-disk spool so nothing is lost while the server is away",
            MlflowTracker.Params.class,
            MlflowTracker::new);

    @Override
    public String name() {
        return "mlflow";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public String apiVersion() {
        return ModalignApi.VERSION;
    }

    @Override
    public List<ComponentFactory<?, Tracker>> trackers() {
        return List.of(MLFLOW);
    }
}
