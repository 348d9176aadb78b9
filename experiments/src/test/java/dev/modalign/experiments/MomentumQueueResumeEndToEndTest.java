package dev.modalign.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MoCo across two towers with momentum copies and queues that wrap around several times: killed with SIGKILL at a
 * random step in a separate JVM and resumed with {@code modalign run FILE --resume}, it ends with exactly the final
 * loss, queue size and retrieval metrics of the same run uninterrupted. Resuming needs both the momentum towers'
 * weights and the queue of keys (loss state) from the checkpoint: with either taken afresh, the numbers differ.
 */
class MomentumQueueResumeEndToEndTest {

    /** 24 steps of 32 shapes, queues of 80 keys (full after 3 steps), a checkpoint every 4 steps. */
    static final String EXPERIMENT = """
            name: moco-resume
            seed: 5
            data:
              train: {source: shapes, size: 256, seed: 1, image_size: 16, fields: {image: image, text: caption}, label: label}
              eval:  {source: shapes, size: 64, seed: 2, image_size: 16, fields: {image: image, text: caption}, label: label}
            towers:
              image: {modality: &im {type: image, size: 16}, encoder: &ie {type: cnn, channels: [8, 16], embed_dim: 32}}
              text: {modality: &tm {type: text, tokenizer: word, max_len: 12}, encoder: &te {type: transformer, width: 32, layers: 1, heads: 2, embed_dim: 32}}
              image_m: {modality: *im, encoder: *ie, momentum_of: image, momentum: 0.9}
              text_m: {modality: *tm, encoder: *te, momentum_of: text, momentum: 0.9}
            augment:
              text: [{type: contriever-crop, min_ratio: 0.6}]
              text_m: [{type: contriever-crop, min_ratio: 0.6}]
            losses:
              - {type: moco, towers: [image, text, image_m, text_m], temperature: 0.1, queue_size: 80}
            train: {epochs: 3, batch_size: 32, workers: 2, log_every: 1, checkpoint_every: 4, threads: 1,
                    optimizer: {lr: 2e-3, weight_decay: 0.05}}
            evaluate:
              - {type: retrieval, towers: [image, text], k: [1, 5]}
            """;

    @TempDir
    Path dir;

    private String[] run(Path file, String runsDir, String... more) {
        List<String> args = new ArrayList<>(List.of("run", file.toString(), "--device", "cpu", "--runs-dir", runsDir,
                "--plugin-dir", dir.resolve("no-plugins").toString()));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void mocoWithQueuesAndMomentumTowersKilledAtARandomStepResumesToTheUninterruptedMetricsExactly() throws Exception {
        Path file = Files.writeString(dir.resolve("moco-resume.yaml"), EXPERIMENT);
        Path straight = dir.resolve("straight");
        Cli.Result uninterrupted = Cli.run(run(file, straight.toString()));
        assertEquals(0, uninterrupted.code(), uninterrupted.err());
        Map<String, Double> expected = RunRecords.finalMetrics(RunRecords.onlyRun(straight, "moco-resume"));
        assertEquals(80.0, expected.get("train/moco/queue_size"), "the queues are full: " + expected);
        assertTrue(expected.containsKey("eval/retrieval/image_to_text/R_at_1"), expected.toString());

        Path killed = dir.resolve("killed");
        long killAfter = 5 + new Random().nextInt(14);
        Process child = ChildJvm.start(dir.resolve("child.log"), dir.resolve("cache"), run(file, killed.toString()));
        Path runDir = RunRecords.killAfterStep(child, dir.resolve("child.log"), killed, "moco-resume", killAfter);
        Cli.Result resumed = Cli.run(run(file, killed.toString(), "--resume", runDir.toString()));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("resumed from step "), resumed.out());
        assertEquals(expected, RunRecords.finalMetrics(runDir), "final loss, queue size and retrieval metrics, bit for bit (killed"
                + " after step " + killAfter + ")");
    }
}
