package dev.modalign.plugins.datasets;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Modality;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * Dataset sources: a generated image-caption set (the quickstart's data), CSV/TSV/JSONL manifests,
 * class folders and generated vectors (the benchmark's data), with the {@code vector} modality that
 * reads vectors.
 */
public final class DatasetsPlugin implements Plugin {

    static final ComponentFactory<ShapesSource.Params, DatasetSource> SHAPES = ComponentFactory.of(
            "shapes",
            "Generated image-caption pairs, nothing downloaded: one coloured shape on a dark noisy background,"
                    + " captioned with its size, colour, shape and position (the quickstart's data)",
            ShapesSource.Params.class,
            ShapesSource::new);

    static final ComponentFactory<ManifestSource.Params, DatasetSource> MANIFEST = ComponentFactory.of(
            "manifest",
            "Records from a CSV, TSV or JSON Lines manifest, path fields resolved against the manifest's directory",
            ManifestSource.Params.class,
            ManifestSource::new);

    /**
     * {@code source: folders}. In YAML:
     *
     * <pre>{@code
     * eval: {source: folders, root: data/pets/test, extensions: [png, jpg], fields: {image: image}, label: label}
     * }</pre>
     */
    static final ComponentFactory<ClassFoldersSource.Params, DatasetSource> FOLDERS = ComponentFactory.of(
            "folders",
            "Labelled files in class folders, root/<class>/<file> (torchvision's ImageFolder layout): fields image"
                    + " (path), label (class index, classes in name order) and class_name",
            ClassFoldersSource.Params.class,
            ClassFoldersSource::new);

    /** {@code source: random}: generated vectors for benchmarks and smoke tests. */
    static final ComponentFactory<RandomVectorsSource.Params, DatasetSource> RANDOM = ComponentFactory.of(
            "random",
            "Generated float vectors of given lengths, one field per entry of dims (mean 0, variance 1), made once per"
                    + " record and kept: inputs for benchmarks with no reading or decoding cost",
            RandomVectorsSource.Params.class,
            RandomVectorsSource::new);

    /** {@code modality: vector}: fixed-length float vectors, as {@code random} makes them or a manifest holds them. */
    static final ComponentFactory<VectorModality.Params, Modality<?>> VECTOR = ComponentFactory.of(
            "vector",
            "Fixed-length float vectors (float[] fields, or numbers in text) collated as float32 [B, size], for mlp",
            VectorModality.Params.class,
            VectorModality::new);

    @Override
    public String name() {
        return "datasets";
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
    public List<ComponentFactory<?, DatasetSource>> datasetSources() {
        return List.of(SHAPES, MANIFEST, FOLDERS, RANDOM);
    }

    @Override
    public List<ComponentFactory<?, Modality<?>>> modalities() {
        return List.of(VECTOR);
    }
}
