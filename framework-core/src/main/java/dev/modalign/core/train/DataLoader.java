package dev.modalign.core.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.modalign.api.Augmentation;
import dev.modalign.api.DataException;
import dev.modalign.api.DataRecord;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Modality;
import dev.modalign.api.VectorSpec;
import dev.modalign.core.compose.Tower;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reads, decodes, augments and collates batches ahead of the training step on worker threads.
 *
 * <p>Reproducible whatever the number of workers: the order of an epoch is a permutation drawn from
 * (seed, epoch), each example's augmentation RNG is derived from (seed, epoch, index, tower), and
 * batches are handed out in order. Each batch's arrays belong to its own manager, which the consumer
 * closes after the step.
 *
 * <p>Workers read, decode and augment (plain Java); the collation into NDArrays happens on the
 * consuming thread. Creating engine arrays on loader threads while the training thread runs
 * autograd made runs irreproducible and occasionally corrupted gradients (NaN in the text tower's
 * embedding gradients at random steps), so the engine is only ever touched from one thread.
 *
 * <p>Fixed-size vectors ({@link VectorSpec}, float[] examples: float32 [B, size], the rows in order) are
 * the exception that costs the training thread nothing: the workers copy the rows into direct memory of
 * their own (plain Java), and the consuming thread wraps that memory as the batch's array without a copy
 * (torch's from_blob), so it only waits on the queue. The memory goes back to a pool when the batch's
 * manager closes, so that steady state neither allocates nor page-faults.
 */
public final class DataLoader implements AutoCloseable {

    private final DatasetSource source;
    private final List<Tower> towers;
    private final String labelField;
    private final int batchSize;
    private final long seed;
    private final boolean training;
    private final boolean dropLast;
    private final NDManager manager;
    private final ExecutorService workers;
    /** Batches read ahead with workers, at most; refilled once half are taken (see {@link #AHEAD_RECORDS}). */
    private final int prefetch;
    private DataErrors skipping;
    /** Per tower: true where the workers pack the batch into direct memory (see the class comment). */
    private final boolean[] packed;
    /**
     * Direct memory of packed batches whose managers have closed, for the workers to fill again, by size in
     * bytes (each tower's batches have their own size, the last, shorter batch another).
     */
    private final Map<Integer, ConcurrentLinkedQueue<ByteBuffer>> pool = new ConcurrentHashMap<>();

    /**
     * @param training shuffle and augment (true), or read in order without augmentation (false)
     * @param workers loader threads; 0 loads on the calling thread
     */
    public DataLoader(DatasetSource source, List<Tower> towers, String labelField, int batchSize, long seed,
            boolean training, boolean dropLast, int workers, NDManager manager) {
        this.source = source;
        this.towers = towers;
        this.labelField = labelField;
        this.batchSize = batchSize;
        this.seed = seed;
        this.training = training;
        this.dropLast = dropLast;
        this.manager = manager;
        AtomicInteger threads = new AtomicInteger();
        this.workers = workers == 0 ? null : Executors.newFixedThreadPool(workers, runnable -> {
            Thread thread = new Thread(runnable, "modalign-loader-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        this.prefetch = Math.max(Math.max(2, workers * 2), (AHEAD_RECORDS + batchSize - 1) / batchSize);
        this.packed = new boolean[towers.size()];
        for (int t = 0; t < towers.size(); t++) {
            Modality<?> modality = towers.get(t).modality();
            packed[t] = manager.getDevice().equals(Device.cpu()) && modality.exampleType() == float[].class
                    && modality.spec() instanceof VectorSpec;
        }
    }

    /**
     * Skips records that fail to read or decode instead of failing, counting them in {@code errors};
     * a batch then holds fewer records.
     */
    public DataLoader skippingBadRecords(DataErrors errors) {
        this.skipping = errors;
        return this;
    }

    /** Batches per epoch. */
    public long batchesPerEpoch() {
        long size = source.size();
        return dropLast ? size / batchSize : (size + batchSize - 1) / batchSize;
    }

    /**
     * One batch: each tower's collated input, the labels where there are any, the manager owning them, and each
     * tower's raw field values in row order (for losses and evaluators that make inputs of their own from them,
     * API 1.3's {@code BatchEncoder} and {@code EvalContext.rawValues}).
     */
    public record Batch(NDManager manager, Map<String, NDList> inputs, NDArray labels, List<String> groups, int size,
            Map<String, List<Object>> raw) implements AutoCloseable {

        public Batch(NDManager manager, Map<String, NDList> inputs, NDArray labels, List<String> groups, int size) {
            this(manager, inputs, labels, groups, size, Map.of());
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /**
     * The reads of one epoch handed to the workers so far: the batches not yet taken, in order, and the index
     * of the next batch to hand out.
     */
    private final class EpochReads {
        final int epoch;
        final long[] order;
        final Deque<Future<Examples>> ahead = new ArrayDeque<>();
        long next;

        EpochReads(int epoch, long skip) {
            this.epoch = epoch;
            this.order = order(epoch);
            this.next = skip;
        }

        /** Hands out reads until {@code depth} are ahead or the epoch has none left; true if the epoch has none left. */
        boolean fill(int depth) {
            long batches = batchesPerEpoch();
            while (ahead.size() < depth && next < batches) {
                long from = next * batchSize;
                long to = Math.min(order.length, from + batchSize);
                long[] indices = java.util.Arrays.copyOfRange(order, (int) from, (int) to);
                next++;
                if (workers == null) {
                    ahead.add(java.util.concurrent.CompletableFuture.completedFuture(read(indices, epoch)));
                } else {
                    ahead.add(workers.submit(() -> read(indices, epoch)));
                }
            }
            return next >= batches;
        }

        void cancel() {
            ahead.forEach(f -> f.cancel(true));
        }
    }

    /**
     * The next epoch's first reads, handed to the workers as a training epoch's last batches are taken, so that
     * the first step of an epoch does not wait for its batch to be read (with 8 batches an epoch, as the bench's
     * 2,048 records at batch 256, that wait was an eighth of every step's data time); null when none.
     */
    private EpochReads upcoming;

    /**
     * Records read ahead at most, in whole batches, where batches are small: each hand-over of reads wakes a worker,
     * and on a machine whose cores the step keeps busy the woken worker takes a core from the training thread for a
     * moment; reads are handed over once half of those ahead are taken, so that at batch 32 a worker wakes every 8
     * steps instead of every step (hand-overs were 0.7 to 1.5% of a step at batch 32 on 2 cores).
     */
    private static final int AHEAD_RECORDS = 512;

    /** Hands out the reads of the epoch last asked for, as its iterator's hasNext would; null before any. */
    private Runnable readAhead;

    /**
     * Hands the workers the next batches' reads now, up to the prefetch depth where half or more of it has been taken,
     * rather than when the consumer next asks (its iterator's hasNext): for the trainer to call after a step's
     * backward pass and gradient norm, so that the workers read and copy while the optimiser's Java threads run
     * rather than beside the forward pass's engine threads, which wait for whichever of them a worker delays at the
     * end of every parallel operation (on 2 cores at batch 256 of 3,072 + 768 values: 1 to 2 ms a step). Nothing
     * without workers, where reads are the consumer's own.
     */
    public void readAhead() {
        if (workers != null && readAhead != null) {
            readAhead.run();
        }
    }

    /** The batches of one epoch, in order; {@code skip} batches at the start are not loaded. */
    public Iterator<Batch> epoch(int epoch, long skip) {
        EpochReads reads;
        if (upcoming != null && upcoming.epoch == epoch && skip == 0) {
            reads = upcoming;
        } else {
            if (upcoming != null) {
                upcoming.cancel();
            }
            reads = new EpochReads(epoch, skip);
        }
        upcoming = null;
        Deque<Future<Examples>> ahead = reads.ahead;
        return new Iterator<>() {

            {
                readAhead = this::fill;
            }

            private void fill() {
                int depth = workers == null ? 1 : prefetch;
                if (ahead.size() > depth / 2) {
                    return;
                }
                boolean lastHandedOut = reads.fill(depth);
                if (lastHandedOut && training && workers != null && ahead.size() < depth) {
                    if (upcoming == null || upcoming.epoch != epoch + 1) {
                        upcoming = new EpochReads(epoch + 1, 0);
                    }
                    upcoming.fill(depth - ahead.size());
                }
            }

            @Override
            public boolean hasNext() {
                fill();
                return !ahead.isEmpty();
            }

            @Override
            public Batch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                try {
                    Examples examples = ahead.poll().get();
                    if (skipping != null) {
                        examples.skipped().forEach(skipping::add);
                    }
                    return collate(examples);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while loading data", e);
                } catch (ExecutionException e) {
                    ahead.forEach(f -> f.cancel(true));
                    if (e.getCause() instanceof RuntimeException runtime) {
                        throw runtime;
                    }
                    throw new IllegalStateException(e.getCause());
                }
            }
        };
    }

    private long[] order(int epoch) {
        long[] order = new long[Math.toIntExact(source.size())];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        if (training) {
            Random random = new Random(mix(seed, epoch, -1, -1));
            for (int i = order.length - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                long swap = order[i];
                order[i] = order[j];
                order[j] = swap;
            }
        }
        return order;
    }

    /** A batch's examples before collation: per tower, the decoded and augmented examples. */
    private record Examples(Map<String, List<Object>> byTower, Map<String, List<Object>> raw, long[] labels,
            List<String> groups, int size, Map<String, ByteBuffer> packed, List<String> skipped) {}

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Examples read(long[] indices, int epoch) {
        Map<String, List<Object>> examples = new LinkedHashMap<>();
        towers.forEach(t -> examples.put(t.name(), new ArrayList<>(indices.length)));
        Map<String, List<Object>> raw = new LinkedHashMap<>();
        towers.forEach(t -> raw.put(t.name(), new ArrayList<>(indices.length)));
        long[] labels = labelField == null ? null : new long[indices.length];
        List<String> groups = new ArrayList<>(indices.length);
        // Counted when the batch is taken: reads ahead of an epoch that never runs must not count.
        List<String> skipped = new ArrayList<>();
        int kept = 0;
        for (long index : indices) {
            // Per tower, in the towers' order: kept only once every tower of the record has loaded.
            Object[] row = new Object[towers.size()];
            Object[] rawRow = new Object[towers.size()];
            DataRecord record;
            long label = 0;
            try {
                record = source.get(index);
                for (int t = 0; t < towers.size(); t++) {
                    Tower tower = towers.get(t);
                    rawRow[t] = record.field(tower.field());
                    Object example = ((Modality) tower.modality()).decode(rawRow[t],
                            record.origin() + " field '" + tower.field() + "'");
                    if (training && !tower.augmentations().isEmpty()) {
                        Random random = new Random(mix(seed, epoch, index, t));
                        for (Augmentation augmentation : tower.augmentations()) {
                            example = augmentation.apply(example, random);
                        }
                    }
                    row[t] = example;
                }
                if (labels != null) {
                    label = label(record);
                }
            } catch (DataException e) {
                if (skipping == null) {
                    throw e;
                }
                skipped.add(e.getMessage());
                continue;
            }
            for (int t = 0; t < row.length; t++) {
                examples.get(towers.get(t).name()).add(row[t]);
                raw.get(towers.get(t).name()).add(rawRow[t]);
            }
            if (labels != null) {
                labels[kept] = label;
            }
            groups.add(record.group());
            kept++;
        }
        if (kept == 0) {
            throw new DataException("every record of a batch failed to load (" + indices.length + " records; the last: "
                    + skipped.get(skipped.size() - 1) + ")");
        }
        Map<String, ByteBuffer> packedRows = new LinkedHashMap<>();
        for (int t = 0; t < towers.size(); t++) {
            if (packed[t]) {
                Tower tower = towers.get(t);
                ByteBuffer memory = pack(examples.get(tower.name()), ((VectorSpec) tower.modality().spec()).size());
                if (memory != null) {
                    packedRows.put(tower.name(), memory);
                }
            }
        }
        return new Examples(examples, raw, labels == null ? null : java.util.Arrays.copyOf(labels, kept), groups, kept,
                packedRows, skipped);
    }

    /**
     * The rows laid end to end in direct memory in the platform's byte order, from the pool where a buffer of
     * the size is free; null where a row is not of the spec's length (the modality's own collate then reports it).
     */
    private ByteBuffer pack(List<Object> rows, int size) {
        int bytes = Math.multiplyExact(Math.multiplyExact(rows.size(), size), Float.BYTES);
        for (Object row : rows) {
            if (!(row instanceof float[] values) || values.length != size) {
                return null;
            }
        }
        ConcurrentLinkedQueue<ByteBuffer> free = pool.computeIfAbsent(bytes, key -> new ConcurrentLinkedQueue<>());
        ByteBuffer memory = free.poll();
        if (memory == null) {
            memory = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
        memory.clear();
        FloatBuffer floats = memory.asFloatBuffer();
        for (Object row : rows) {
            floats.put((float[]) row);
        }
        return memory;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Batch collate(Examples examples) {
        NDManager batchManager = manager.newSubManager();
        try {
            Map<String, NDList> inputs = new LinkedHashMap<>();
            for (Tower tower : towers) {
                ByteBuffer memory = examples.packed().get(tower.name());
                if (memory != null) {
                    // The workers' memory as the array, without a copy; it returns to the pool with the batch.
                    int size = ((VectorSpec) tower.modality().spec()).size();
                    inputs.put(tower.name(), new NDList(batchManager.create(memory,
                            new Shape(examples.size(), size), DataType.FLOAT32)));
                    batchManager.attachInternal("modalign-loader-memory-" + tower.name(),
                            () -> pool.get(memory.capacity()).offer(memory));
                } else {
                    inputs.put(tower.name(), ((Modality) tower.modality()).collate(examples.byTower().get(tower.name()),
                            batchManager));
                }
            }
            NDArray labelArray = examples.labels() == null ? null : batchManager.create(examples.labels());
            return new Batch(batchManager, inputs, labelArray, examples.groups(), examples.size(), examples.raw());
        } catch (RuntimeException e) {
            batchManager.close();
            throw e;
        }
    }

    private long label(DataRecord record) {
        Object value = record.field(labelField);
        if (value instanceof Number number) {
            return number.longValue();
        }
        try {
            return Long.parseLong(value.toString().trim());
        } catch (NumberFormatException e) {
            throw new DataException(record.origin() + ": label field '" + labelField + "' must be an integer class index, found '"
                    + value + "'");
        }
    }

    /** A well-spread 64-bit seed from the parts (SplitMix64's finaliser over a simple combination). */
    static long mix(long seed, long epoch, long index, long tower) {
        long z = seed * 0x9E3779B97F4A7C15L + epoch * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL + tower + 1;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public void close() {
        if (workers != null) {
            workers.shutdownNow();
        }
    }
}
