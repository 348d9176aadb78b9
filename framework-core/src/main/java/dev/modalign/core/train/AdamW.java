package dev.modalign.core.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import dev.modalign.core.config.ExperimentSpec.OptimizerSpec;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * AdamW, from "Decoupled Weight Decay Regularization" (Loshchilov and Hutter, ICLR 2019),
 * Algorithm 2: Adam's moment estimates with bias correction, and weight decay applied to the weights
 * directly rather than through the gradient. Decay applies to weight matrices and kernels (two or
 * more dimensions) only, not to biases, norms' gains or scalars such as a learnable temperature,
 * as CLIP's training does.
 *
 * <p>Gradients start from nothing at every step, as PyTorch's {@code zero_grad(set_to_none=True)}:
 * the {@link #parameterStore} hands the encoders, for each trainable parameter, a fresh leaf that
 * shares the parameter's memory, so the backward pass writes each gradient once into a new array
 * instead of adding it to a zeroed one, and nothing is zeroed. A parameter read directly rather than
 * through the store (a loss's temperature) keeps its own gradient, which {@link #zeroGradients}
 * zeroes in place.
 *
 * <p>On the CPU the update is one pass over all parameters ({@link #step(double, float)}): for each
 * element the gradient is read once, scaled by the clipping factor, and the moments and the weight
 * are read and written once, in blocks that stay in the L1 cache, on {@code threads} threads. The
 * equivalent chain of engine operations per parameter reads and writes each array ten or more
 * times and allocates four temporaries per parameter; it remains the path on a GPU, and the tests
 * hold the two to each other. The gradient norm for clipping is likewise one pass ({@link
 * #gradientNorm()}).
 */
final class AdamW {

    /** Elements per block of the fused pass: four float arrays of it stay in a 64 KiB L1 cache. */
    private static final int BLOCK = 2048;

    /**
     * Elements per chunk, the unit a thread of the fused passes takes at a time: 32 blocks (the MLP bench's 2.2M
     * values are 34 chunks), few enough that taking one costs nothing, many enough that the last ones even out.
     */
    private static final int CHUNK = 32 * BLOCK;

    /** Below this many elements in all, a second thread costs more than it saves. */
    private static final long PARALLEL_THRESHOLD = 1 << 16;

    /** Worker threads for the fused pass, shared by every optimiser of the process (daemon threads). */
    private static final ExecutorService WORKERS = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "modalign-adamw");
        thread.setDaemon(true);
        return thread;
    });

    private final OptimizerSpec spec;
    private final NDManager stateManager;
    private final List<Slot> slots = new ArrayList<>();
    private final Map<Parameter, Slot> byParameter = new IdentityHashMap<>();
    private final int threads;
    private final boolean fused;
    private long steps;

    private static final class Slot {
        final Parameter parameter;
        final NDArray weight;
        final NDArray m;
        final NDArray v;
        final boolean decay;
        final int size;
        /** The parameter's own gradient, once a backward pass made one (the parameter was read directly). */
        NDArray gradient;
        /** This step's leaf handed to the encoders, or null. */
        NDArray leaf;

        Slot(Parameter parameter, NDArray m, NDArray v) {
            this.parameter = parameter;
            this.weight = parameter.getArray();
            this.m = m;
            this.v = v;
            this.decay = weight.getShape().dimension() >= 2;
            this.size = Math.toIntExact(weight.size());
        }
    }

    AdamW(List<Parameter> parameters, OptimizerSpec spec, NDManager stateManager) {
        this(parameters, spec, stateManager, 1);
    }

    /** @param threads threads of the fused CPU pass; 0 for one per core */
    AdamW(List<Parameter> parameters, OptimizerSpec spec, NDManager stateManager, int threads) {
        this.spec = spec;
        this.stateManager = stateManager;
        this.threads = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        for (Parameter parameter : parameters) {
            NDArray weight = parameter.getArray();
            Slot slot = new Slot(parameter, stateManager.zeros(weight.getShape(), weight.getDataType()),
                    stateManager.zeros(weight.getShape(), weight.getDataType()));
            slots.add(slot);
            byParameter.put(parameter, slot);
        }
        this.fused = slots.stream().allMatch(AdamW::addressable);
    }

    /**
     * Whether the fused pass can work on a parameter: float32 on the CPU, and the memory Java sees is
     * the array's own (a non-contiguous array would be handed out as a copy, and writes to it lost).
     */
    private static boolean addressable(Slot slot) {
        if (!slot.weight.getDevice().equals(Device.cpu()) || slot.weight.getDataType() != DataType.FLOAT32
                || !(slot.weight instanceof PtNDArray)) {
            return false;
        }
        FloatBuffer memory = floats(slot.weight);
        if (memory.capacity() != slot.size || slot.size == 0) {
            return false;
        }
        float value = memory.get(0);
        float probe = value == 1f ? 2f : 1f;
        memory.put(0, probe);
        try (NDArray flat = slot.weight.flatten()) {
            boolean writesThrough = flat.getFloat(0) == probe;
            memory.put(0, value);
            flat.set(new NDIndex(0), value);
            return writesThrough;
        }
    }

    /**
     * The store the encoders read parameters from: in training, each trainable parameter as this
     * step's leaf (made on first use in the step, in the manager the parameter is lent to); otherwise
     * the parameter itself.
     */
    ParameterStore parameterStore(NDManager manager) {
        return new ParameterStore(manager, false) {
            @Override
            public NDArray getValue(Parameter parameter, Device device, boolean training) {
                Slot slot = training ? byParameter.get(parameter) : null;
                if (slot == null || !slot.weight.getDevice().equals(device)) {
                    return super.getValue(parameter, device, training);
                }
                if (slot.leaf == null) {
                    NDArray leaf = slot.weight.stopGradient();
                    leaf.setRequiresGradient(true);
                    slot.leaf = leaf;
                }
                return slot.leaf;
            }
        };
    }

    /** Every array the optimiser keeps across steps, to lend to the step's manager. */
    List<NDArray> arrays() {
        List<NDArray> arrays = new ArrayList<>();
        for (Slot slot : slots) {
            arrays.add(slot.weight);
            if (slot.gradient != null) {
                arrays.add(slot.gradient);
            }
            arrays.add(slot.m);
            arrays.add(slot.v);
        }
        return arrays;
    }

    /**
     * This step's gradients, in parameter order; call after a backward pass. A parameter that got no
     * gradient has zeros; temporaries belong to the manager the parameters are lent to.
     */
    List<NDArray> gradients() {
        bindGradients();
        List<NDArray> gradients = new ArrayList<>();
        for (Slot slot : slots) {
            NDArray fromLeaf = slot.leaf == null ? null : definedGradient(slot.leaf);
            if (fromLeaf != null && slot.gradient != null) {
                gradients.add(fromLeaf.add(slot.gradient));
            } else if (fromLeaf != null) {
                gradients.add(fromLeaf);
            } else if (slot.gradient != null) {
                gradients.add(slot.gradient);
            } else {
                gradients.add(slot.weight.zerosLike());
            }
        }
        return gradients;
    }

    List<Parameter> parameters() {
        return slots.stream().map(slot -> slot.parameter).toList();
    }

    /**
     * Takes out the gradients the backward passes wrote since the last call, for a gradient policy that
     * combines per-term gradients: a copy of each, in parameter order (null where the parameter has no
     * gradient yet), in the manager the parameters are lent to; every gradient is left zero, so that the
     * next term's backward pass writes only its own. A parameter read both through the store and directly
     * has the two added, as in {@link #gradients()}.
     */
    List<NDArray> takeGradients() {
        bindGradients();
        List<NDArray> taken = new ArrayList<>(slots.size());
        for (Slot slot : slots) {
            NDArray fromLeaf = slot.leaf == null ? null : definedGradient(slot.leaf);
            NDArray gradient = null;
            if (fromLeaf != null) {
                gradient = fromLeaf.duplicate();
                fromLeaf.set(new NDIndex("..."), 0f);
            }
            if (slot.gradient != null) {
                gradient = gradient == null ? slot.gradient.duplicate() : gradient.add(slot.gradient);
                slot.gradient.set(new NDIndex("..."), 0f);
            }
            taken.add(gradient);
        }
        return taken;
    }

    /**
     * Writes a combined gradient, in parameter order (null: zero), where {@link #gradientNorm} and {@link #step}
     * read this step's gradients; call after {@link #takeGradients}, which left them zero.
     */
    void putGradients(List<NDArray> gradients) {
        if (gradients.size() != slots.size()) {
            throw new IllegalArgumentException(gradients.size() + " gradients for " + slots.size() + " parameters");
        }
        for (int i = 0; i < slots.size(); i++) {
            Slot slot = slots.get(i);
            NDArray gradient = gradients.get(i);
            if (gradient == null) {
                continue;
            }
            if (!gradient.getShape().equals(slot.weight.getShape())) {
                throw new IllegalArgumentException("the gradient of " + slot.parameter.getName() + " has shape "
                        + gradient.getShape() + ", the parameter " + slot.weight.getShape());
            }
            NDArray target = slot.leaf == null ? null : definedGradient(slot.leaf);
            if (target == null) {
                target = slot.gradient;
            }
            if (target == null) {
                throw new IllegalStateException("no backward pass reached " + slot.parameter.getName()
                        + ", so it has no gradient to set");
            }
            target.set(new NDIndex("..."), gradient.toType(slot.weight.getDataType(), false));
        }
    }

    /**
     * The global L2 norm of this step's gradients. On the CPU the squares are summed in float32 lanes, one per
     * position in a block, {@value #LANE_RUN} blocks at a time, and the lanes in float64: the lanes' loop is
     * vectorised (0.07 against 0.28 ns a value for eight float64 chains), and a lane's sum of at most {@value
     * #LANE_RUN} squares is within 5e-7 of exact. Where the lanes overflow (float32 squares overflow long before
     * the gradients do) or underflow, the pass is made again in float64.
     */
    double gradientNorm() {
        if (slots.isEmpty()) {
            return 0;
        }
        if (!fused) {
            NDArray sumOfSquares = null;
            for (NDArray gradient : gradients()) {
                NDArray squares = gradient.toType(DataType.FLOAT64, false).square().sum();
                sumOfSquares = sumOfSquares == null ? squares : sumOfSquares.add(squares);
            }
            return Math.sqrt(sumOfSquares.getDouble());
        }
        List<Views> views = views(false);
        double total = sumOfSquares(views, true);
        if (!Double.isFinite(total) || total < MIN_LANE_TOTAL) {
            total = sumOfSquares(views, false);
        }
        return Math.sqrt(total);
    }

    /**
     * The sum of squares of all gradients, in float32 lanes or in float64 chains: a partial sum per chunk, added
     * in the chunks' order, so that the norm is the same to the bit whichever thread took which chunk, and at
     * any number of threads.
     */
    private double sumOfSquares(List<Views> views, boolean inLanes) {
        Chunks chunks = chunks(views);
        double[] partial = new double[chunks.count()];
        forEachChunk(chunks, threads(chunks), (from, to) -> partial[(int) (from / CHUNK)] = inLanes
                ? sumOfSquaresInLanes(views, from, to) : sumOfSquares(views, from, to));
        double total = 0;
        for (double value : partial) {
            total += value;
        }
        return total;
    }

    /** One update at learning rate {@code lr}; temporaries belong to whatever manager the arrays are lent to. */
    void step(double lr) {
        step(lr, 1f);
    }

    /**
     * One update at learning rate {@code lr} with every gradient multiplied by {@code gradientScale}
     * first (the clipping factor); the gradients themselves are left as they are.
     */
    void step(double lr, float gradientScale) {
        update(lr, gradientScale, fused);
    }

    /** The same update as a chain of engine operations per parameter: the GPU's path, and the fused pass's reference. */
    void stepPerParameter(double lr, float gradientScale) {
        update(lr, gradientScale, false);
    }

    private void update(double lr, float gradientScale, boolean inOnePass) {
        steps++;
        float beta1 = (float) spec.beta1();
        float beta2 = (float) spec.beta2();
        double correction1 = 1 - Math.pow(beta1, steps);
        double correction2 = 1 - Math.pow(beta2, steps);
        // Step size with both bias corrections folded in (Kingma and Ba, 2015, end of section 2).
        float stepSize = (float) (lr * Math.sqrt(correction2) / correction1);
        float epsHat = (float) (spec.eps() * Math.sqrt(correction2));
        float decay = spec.weightDecay() > 0 ? (float) (1 - lr * spec.weightDecay()) : 1f;
        Coefficients coefficients = new Coefficients(beta1, beta2, stepSize, epsHat, decay, gradientScale);
        if (inOnePass) {
            List<Views> views = views(true);
            Chunks chunks = chunks(views);
            forEachChunk(chunks, threads(chunks), (from, to) -> update(views, from, to, coefficients));
        } else {
            stepPerParameter(coefficients);
        }
    }

    /** Whether {@link #step} runs the fused CPU pass (false on a GPU). */
    boolean fused() {
        return fused;
    }

    private void stepPerParameter(Coefficients c) {
        List<NDArray> gradients = gradients();
        for (int i = 0; i < slots.size(); i++) {
            Slot slot = slots.get(i);
            NDArray gradient = c.gradientScale() == 1f ? gradients.get(i) : gradients.get(i).mul(c.gradientScale());
            slot.m.muli(c.beta1()).addi(gradient.mul(1 - c.beta1()));
            slot.v.muli(c.beta2()).addi(gradient.square().muli(1 - c.beta2()));
            if (slot.decay && c.decay() != 1f) {
                slot.weight.muli(c.decay());
            }
            slot.weight.subi(slot.m.div(slot.v.sqrt().addi(c.epsHat())).muli(c.stepSize()));
        }
    }

    /**
     * Ends the step's gradients: the leaves are dropped (their gradients are freed with the step's
     * manager) and the parameters' own gradients are zeroed in place (safe for NaN and infinite values).
     */
    void zeroGradients() {
        for (Slot slot : slots) {
            slot.leaf = null;
            if (slot.gradient != null) {
                slot.gradient.set(new NDIndex("..."), 0f);
            }
        }
    }

    long steps() {
        return steps;
    }

    /** The first-moment estimates m, in parameter order: for checkpoints, which write and restore them in place. */
    List<NDArray> firstMoments() {
        return slots.stream().map(slot -> slot.m).toList();
    }

    /** The second-moment estimates v, in parameter order, as {@link #firstMoments()}. */
    List<NDArray> secondMoments() {
        return slots.stream().map(slot -> slot.v).toList();
    }

    /** Sets the number of updates made, for a run resumed from a checkpoint: the bias corrections depend on it. */
    void restoreSteps(long steps) {
        this.steps = steps;
    }

    // ------------------------------------------------------------------------------ the fused pass

    private record Coefficients(float beta1, float beta2, float stepSize, float epsHat, float decay, float gradientScale) {}

    /** One parameter's memory as Java sees it for this pass; gradients null where the parameter got none. */
    private record Views(Slot slot, FloatBuffer weight, FloatBuffer m, FloatBuffer v, FloatBuffer leafGradient,
            FloatBuffer ownGradient) {}

    /** Takes the parameters' own gradients once a backward pass has made them (read directly, not through the store). */
    private void bindGradients() {
        for (Slot slot : slots) {
            if (slot.gradient == null) {
                NDArray gradient = definedGradient(slot.weight);
                if (gradient != null) {
                    gradient.attach(stateManager);
                    slot.gradient = gradient;
                }
            }
        }
    }

    /** The array's gradient, or null where no backward pass has written one (PyTorch's undefined grad). */
    private static NDArray definedGradient(NDArray array) {
        return array instanceof PtNDArray pt ? JniUtils.getGradient(pt) : array.getGradient();
    }

    /**
     * The memory of every parameter's arrays, fetched afresh each step: an array whose values are set
     * from outside (a checkpoint, a loss clipping its temperature) may have been given new memory.
     */
    private List<Views> views(boolean withState) {
        bindGradients();
        List<Views> views = new ArrayList<>(slots.size());
        for (Slot slot : slots) {
            NDArray leafGradient = slot.leaf == null ? null : definedGradient(slot.leaf);
            views.add(new Views(slot, withState ? floats(slot.weight) : null, withState ? floats(slot.m) : null,
                    withState ? floats(slot.v) : null, leafGradient == null ? null : floats(leafGradient),
                    slot.gradient == null ? null : floats(slot.gradient)));
            if (leafGradient != null) {
                leafGradient.close();
            }
        }
        return views;
    }

    private static FloatBuffer floats(NDArray array) {
        ByteBuffer memory = array.toByteBuffer(true);
        return memory.asFloatBuffer();
    }

    /** The elements of all parameters laid end to end, cut into chunks of {@link #CHUNK}. */
    private record Chunks(long elements) {
        int count() {
            return Math.toIntExact((elements + CHUNK - 1) / CHUNK);
        }
    }

    private static Chunks chunks(List<Views> views) {
        long elements = 0;
        for (Views view : views) {
            elements += view.slot().size;
        }
        return new Chunks(elements);
    }

    /** Threads for a pass over {@code chunks}: one where a second would cost more than it saves. */
    private int threads(Chunks chunks) {
        return chunks.elements() < PARALLEL_THRESHOLD ? 1 : Math.min(threads, chunks.count());
    }

    private interface ChunkTask {
        /** Works on elements [from, to) of all parameters laid end to end. */
        void run(long from, long to);
    }

    /**
     * Runs {@code task} on every chunk, on this thread and {@code threads - 1} workers, each taking the next chunk
     * not yet taken until none is left, and waits for all. Taken in turn rather than cut into one equal part per
     * thread: on a machine with as many cores as threads, whatever else runs (the loader's copy of the next batch,
     * the JIT compiler, the engine's threads spinning down) delays one thread, and with equal parts the pass
     * waited for that thread's part; here the others take its share (the gradient norm at batch 256 on 2 cores
     * took 1.13 ms where the loader copied beside it and 0.57 ms where not).
     */
    private static void forEachChunk(Chunks chunks, int threads, ChunkTask task) {
        int count = chunks.count();
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            for (int chunk = next.getAndIncrement(); chunk < count; chunk = next.getAndIncrement()) {
                long from = (long) chunk * CHUNK;
                task.run(from, Math.min(chunks.elements(), from + CHUNK));
            }
        };
        List<Future<?>> others = new ArrayList<>(threads - 1);
        for (int i = 1; i < threads; i++) {
            others.add(WORKERS.submit(worker));
        }
        worker.run();
        try {
            for (Future<?> other : others) {
                other.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during the optimiser's update", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException runtime ? runtime : new IllegalStateException(e.getCause());
        }
    }

    /**
     * Calls {@code block} for every block of elements [from, to) of all parameters laid end to end, each block
     * within one parameter.
     */
    private static void forEachBlock(List<Views> views, long from, long to, BlockTask block) {
        long offset = 0;
        for (Views view : views) {
            int size = view.slot().size;
            long start = Math.max(from, offset);
            long end = Math.min(to, offset + size);
            for (long at = start; at < end; at += BLOCK) {
                block.run(view, (int) (at - offset), (int) Math.min(BLOCK, end - at));
            }
            offset += size;
        }
    }

    private interface BlockTask {
        void run(Views view, int start, int length);
    }

    /** The scratch blocks of one thread. */
    private static final class Scratch {
        final float[] gradient = new float[BLOCK];
        final float[] other = new float[BLOCK];
        final float[] weight = new float[BLOCK];
        final float[] m = new float[BLOCK];
        final float[] v = new float[BLOCK];
        final float[] lanes = new float[BLOCK];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Blocks a float32 lane sums before it is added to the float64 total: at most this many squares a lane. */
    private static final int LANE_RUN = 8;

    /**
     * Below this the lanes' total may have lost squares to float32 underflow (squares below 1e-45 are 0 there), and
     * the float64 pass decides; gradients that small are rare, and the second pass then costs little.
     */
    private static final double MIN_LANE_TOTAL = 1e-30;

    private static double sumOfSquaresInLanes(List<Views> views, long from, long to) {
        Scratch scratch = SCRATCH.get();
        float[] lanes = scratch.lanes;
        java.util.Arrays.fill(lanes, 0f);
        double[] sum = new double[1];
        int[] run = new int[1];
        forEachBlock(views, from, to, (view, start, length) -> {
            if (gradient(view, start, length, scratch)) {
                float[] values = scratch.gradient;
                for (int i = 0; i < length; i++) {
                    lanes[i] += values[i] * values[i];
                }
                if (++run[0] == LANE_RUN) {
                    sum[0] += drain(lanes);
                    run[0] = 0;
                }
            }
        });
        return sum[0] + drain(lanes);
    }

    /** The lanes' sum in float64, leaving them 0. */
    private static double drain(float[] lanes) {
        double sum = 0;
        for (int i = 0; i < lanes.length; i++) {
            sum += lanes[i];
            lanes[i] = 0f;
        }
        return sum;
    }

    private static double sumOfSquares(List<Views> views, long from, long to) {
        Scratch scratch = SCRATCH.get();
        double[] sum = new double[1];
        forEachBlock(views, from, to, (view, start, length) -> {
            if (gradient(view, start, length, scratch)) {
                sum[0] += squares(scratch.gradient, length);
            }
        });
        return sum[0];
    }

    /**
     * Eight independent float64 sums, so that the additions overlap: a double add has a latency of four
     * cycles and two issue ports, so eight chains keep both busy (four left half the throughput unused, 0.72
     * against 0.90 ms for 2.2M values on this machine's cores). Each square is exact in float64, so only the
     * order of the additions differs from one running sum.
     */
    private static double squares(float[] values, int length) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        int i = 0;
        for (; i + 7 < length; i += 8) {
            double a = values[i];
            double b = values[i + 1];
            double c = values[i + 2];
            double d = values[i + 3];
            double e = values[i + 4];
            double f = values[i + 5];
            double g = values[i + 6];
            double h = values[i + 7];
            s0 += a * a;
            s1 += b * b;
            s2 += c * c;
            s3 += d * d;
            s4 += e * e;
            s5 += f * f;
            s6 += g * g;
            s7 += h * h;
        }
        for (; i < length; i++) {
            double a = values[i];
            s0 += a * a;
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /** Reads a block of the step's gradient into scratch.gradient; false where the parameter got none. */
    private static boolean gradient(Views view, int start, int length, Scratch scratch) {
        FloatBuffer leaf = view.leafGradient();
        FloatBuffer own = view.ownGradient();
        if (leaf == null && own == null) {
            return false;
        }
        if (leaf != null) {
            leaf.get(start, scratch.gradient, 0, length);
            if (own != null) {
                own.get(start, scratch.other, 0, length);
                for (int i = 0; i < length; i++) {
                    scratch.gradient[i] += scratch.other[i];
                }
            }
        } else {
            own.get(start, scratch.gradient, 0, length);
        }
        return true;
    }

    private static void update(List<Views> views, long from, long to, Coefficients c) {
        Scratch scratch = SCRATCH.get();
        float beta1 = c.beta1();
        float beta2 = c.beta2();
        float rest1 = 1 - beta1;
        float rest2 = 1 - beta2;
        float stepSize = c.stepSize();
        float epsHat = c.epsHat();
        float scale = c.gradientScale();
        forEachBlock(views, from, to, (view, start, length) -> {
            float[] g = scratch.gradient;
            float[] w = scratch.weight;
            float[] m = scratch.m;
            float[] v = scratch.v;
            if (!gradient(view, start, length, scratch)) {
                java.util.Arrays.fill(g, 0, length, 0f);
            }
            view.weight().get(start, w, 0, length);
            view.m().get(start, m, 0, length);
            view.v().get(start, v, 0, length);
            float decay = view.slot().decay ? c.decay() : 1f;
            // The operations and their order are those of the per-parameter chain, so both round alike.
            for (int i = 0; i < length; i++) {
                float gi = g[i] * scale;
                float mi = m[i] * beta1 + gi * rest1;
                float vi = v[i] * beta2 + (gi * gi) * rest2;
                m[i] = mi;
                v[i] = vi;
                w[i] = w[i] * decay - mi / ((float) Math.sqrt(vi) + epsHat) * stepSize;
            }
            view.weight().put(start, w, 0, length);
            view.m().put(start, m, 0, length);
            view.v().put(start, v, 0, length);
        });
    }
}
