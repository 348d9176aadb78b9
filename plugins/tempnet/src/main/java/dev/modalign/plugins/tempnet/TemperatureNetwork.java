package dev.modalign.plugins.tempnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import dev.modalign.api.Scalars;
import java.util.List;

/**
 * TempNet, the temperature prediction network of "To Cool or not to Cool? Temperature Network Meets
 * Large Foundation Models via DRO" (Qiu et al., ICML 2024), in the design of the authors' CLIP code
 * (their TempGenerator): a projection, similarities to learned prototypes, a prototype-weighted pooling
 * and a sigmoid that maps the result into [tau_min, tau_max].
 *
 * <pre>
 *   H = sigmoid(u W^T + c)                              W [D, D], c [D]; u the L2-normalised embedding
 *   Q = H (P / ||P||)^T                                 P [M, D] prototypes, rows L2-normalised
 *   R = (softmax(Q / exp(l)) - 1/M) * sigmoid(Q)        l a learned log-scale of the pooling softmax
 *   z = R w + o                                         w [M], o scalar
 *   tau = (tau_max - tau_min) sigmoid(z) + tau_min
 * </pre>
 *
 * <p>Initialisation as in the authors' code: W and c uniform on +-1/sqrt(D) (torch.nn.Linear's
 * default), P standard normal, l = log(0.01), w ones and o zero; the random ones are drawn from
 * generators seeded by the run's seed. The authors' dropout (0.5) after the projection is left out so
 * that the temperatures, and the loss, are a function of the batch alone.
 */
final class TemperatureNetwork {

    /** The authors' initial pooling temperature, exp(l) = 0.01. */
    static final double INITIAL_POOLING_SCALE = 0.01;

    private final int prototypes;
    private final float tauMin;
    private final float tauMax;
    private final Parameter projWeight;
    private final Parameter projBias;
    private final Parameter prototypeWeights;
    private final Parameter logScale;
    private final Parameter outWeight;
    private final Parameter outBias;

    /**
     * @param name the prefix of the parameters' names, the tower's
     * @param dim the embedding size D
     * @param prototypes the number of prototypes M
     * @param tauMin the smallest temperature the network can predict
     * @param tauMax the largest
     * @param runSeed the run's seed, from which the random initial weights are drawn
     * @param index the network's number within its loss, so that two networks start differently
     */
    TemperatureNetwork(String name, int dim, int prototypes, double tauMin, double tauMax, long runSeed, int index) {
        this.prototypes = prototypes;
        this.tauMin = (float) tauMin;
        this.tauMax = (float) tauMax;
        double bound = 1 / Math.sqrt(dim);
        this.projWeight = parameter(name + ".proj_weight", new Shape(dim, dim),
                SeededInitializer.uniform(bound, SeededInitializer.derive(runSeed, index, 0)));
        this.projBias = parameter(name + ".proj_bias", new Shape(dim),
                SeededInitializer.uniform(bound, SeededInitializer.derive(runSeed, index, 1)));
        this.prototypeWeights = parameter(name + ".prototypes", new Shape(prototypes, dim),
                SeededInitializer.normal(1, SeededInitializer.derive(runSeed, index, 2)));
        this.logScale = parameter(name + ".log_scale", new Shape(),
                new ConstantInitializer((float) Math.log(INITIAL_POOLING_SCALE)));
        this.outWeight = parameter(name + ".out_weight", new Shape(prototypes), new ConstantInitializer(1f));
        this.outBias = parameter(name + ".out_bias", new Shape(), new ConstantInitializer(0f));
    }

    /** The weights in a fixed order: projection weight and bias, prototypes, log-scale, output weight and bias. */
    List<Parameter> parameters() {
        return List.of(projWeight, projBias, prototypeWeights, logScale, outWeight, outBias);
    }

    /**
     * The temperatures [B] for L2-normalised embeddings {@code unit} [B, D], which should be detached:
     * the network learns from the loss through the temperatures, not the towers through the network.
     */
    NDArray temperatures(NDArray unit, NDManager manager) {
        DataType dataType = unit.getDataType();
        NDArray weight = stepValue(projWeight, manager, dataType);
        NDArray bias = stepValue(projBias, manager, dataType);
        NDArray protos = stepValue(prototypeWeights, manager, dataType);
        NDArray scale = stepValue(logScale, manager, dataType);
        NDArray out = stepValue(outWeight, manager, dataType);
        NDArray offset = stepValue(outBias, manager, dataType);

        NDArray hidden = Activation.sigmoid(unit.matMul(weight.transpose()).add(bias));
        NDArray unitPrototypes = Scalars.normalise(protos);
        NDArray similarities = hidden.matMul(unitPrototypes.transpose());
        NDArray pooling = similarities.div(scale.exp()).softmax(1);
        NDArray pooled = pooling.sub(Scalars.of(pooling, 1.0 / prototypes)).mul(Activation.sigmoid(similarities));
        NDArray logit = pooled.mul(out.expandDims(0)).sum(new int[] {1}).add(offset);
        NDArray unitInterval = Activation.sigmoid(logit);
        return Scalars.mul(unitInterval, tauMax - tauMin).add(Scalars.of(unitInterval, tauMin));
    }

    private static Parameter parameter(String name, Shape shape, Initializer initializer) {
        return Parameter.builder()
                .setName(name)
                .setType(Parameter.Type.OTHER)
                .optShape(shape)
                .optInitializer(initializer)
                .build();
    }

    /**
     * A weight's value for this step in the step's manager. A copying toType is differentiable
     * (duplicate() is not: it detaches); moving the copy to the step's manager keeps the arrays of the
     * ops below out of the parameter's manager, which lives as long as the run.
     */
    private static NDArray stepValue(Parameter parameter, NDManager manager, DataType dataType) {
        NDArray value = parameter.getArray().toType(dataType, true);
        value.attach(manager);
        return value;
    }
}
