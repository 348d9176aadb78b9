package dev.modalign.core.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.modalign.core.compose.RunComposer;
import dev.modalign.core.compose.RunPlan;
import dev.modalign.core.config.ExperimentSpec.TrainSpec;
import dev.modalign.core.train.DataLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code modalign bench-data FILE}: how fast the experiment's training data arrives, with no model: read,
 * decode, augment on the loader threads and collate, as a run does. When it is not well above the
 * training's samples/s, the data pipeline is the bottleneck.
 */
@Command(name = "bench-data", mixinStandardHelpOptions = true,
        description = "Measure the data pipeline of an experiment without training: records per second read, decoded, "
                + "augmented (train.workers threads) and collated, for data.train (or --split eval).")
final class BenchDataCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", description = "Experiment YAML file.")
    Path file;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--set", paramLabel = "PATH=VALUE", description = "Override a value first, as for run (repeatable).")
    List<String> assignments = new ArrayList<>();

    @Option(names = "--split", paramLabel = "SPLIT", description = "train (augmented) or eval (not). Default: train.")
    String split = "train";

    @Option(names = "--batches", paramLabel = "N", description = "Batches to time after one warm-up batch (default 20).")
    int batches = 20;

    @Override
    public Integer call() {
        RunComposer composer = new RunComposer(plugins.load(System.err), Cache.directory());
        RunPlan plan = composer.compose(file, assignments);
        boolean training = !split.equals("eval");
        RunPlan.Data data = training ? plan.train() : plan.eval();
        if (data == null) {
            throw new dev.modalign.core.UserError(file + " has no data." + split + "; nothing to measure");
        }
        TrainSpec train = plan.spec().train();
        try (NDManager manager = NDManager.newBaseManager(Device.cpu());
                DataLoader loader = new DataLoader(data.source(), data.towersReading(plan.towers()), data.labelField(),
                        train.batchSize(), plan.spec().seed(), training, training && train.dropLast(), train.workers(),
                        manager)) {
            Iterator<DataLoader.Batch> epoch = loader.epoch(0, 0);
            if (!epoch.hasNext()) {
                throw new dev.modalign.core.UserError("data." + split + " gives no batch of " + train.batchSize());
            }
            epoch.next().close(); // warm-up: threads, caches, JIT
            long records = 0;
            int timed = 0;
            long started = System.nanoTime();
            while (timed < batches && epoch.hasNext()) {
                try (DataLoader.Batch batch = epoch.next()) {
                    records += batch.size();
                }
                timed++;
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            System.out.printf("data.%s: %d batches of %d, %d records in %.2f s: %.0f records/s (%d loader threads)%n",
                    split, timed, train.batchSize(), records, seconds, records / seconds, train.workers());
        }
        return Main.OK;
    }
}
