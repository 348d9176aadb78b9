package dev.modalign.plugins.webdataset;

import dev.modalign.api.ComponentFactory;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.ModalignApi;
import dev.modalign.api.Plugin;
import java.util.List;

/**
 * WebDataset tar shards as a data source: the format that open_clip, CLAP and img2dataset stream
 * from, read here by position so that the host's seeded shuffle covers the whole data set.
 *
 * <pre>{@code
 * data:
 *   train: {source: webdataset, urls: "shards/{000000..000009}.tar", split: train, fields: {image: jpg, text: txt}}
 *   eval:  {source: webdataset, urls: "shards/{000000..000009}.tar", split: test,  fields: {image: jpg, text: txt}}
 * }</pre>
 */
public final class WebDatasetPlugin implements Plugin {

    /**
     * {@code source: webdataset}. In YAML:
     *
     * <pre>{@code
     * train: {source: webdataset, urls: "shards/train-{000000..000009}.tar", on_error: skip,
     *         split: train, split_fractions: [0.9, 0.05, 0.05], split_seed: 0, fields: {image: jpg, text: txt}}
     * }</pre>
     */
    static final ComponentFactory<WebDatasetSource.Params, DatasetSource> WEBDATASET = ComponentFactory.of(
            "webdataset",
            "Samples from WebDataset tar shards (brace patterns like shards/{000000..000099}.tar), indexed in place"
                    + " without unpacking; fields are named by the members' extensions (jpg, txt, json, cls)",
            WebDatasetSource.Params.class,
            WebDatasetSource::new);

    @Override
    public String name() {
        return "webdataset";
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
        return List.of(WEBDATASET);
    }
}
