package dev.modalign.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.ParameterList;
import dev.modalign.core.compose.Tower;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The momentum (EMA) copies among a run's towers ({@code momentum_of:}), paired weight by weight with the
 * towers they follow: MoCo's key encoder ("Momentum Contrast for Unsupervised Visual Representation
 * Learning", He et al., CVPR 2020, Eq. 2), updated after every optimiser step as
 *
 * <pre>
 *   theta_k = m * theta_k + (1 - m) * theta_q
 * </pre>
 *
 * <p>in float32, as two products and a sum (no fused multiply-add), so that the result is the same, bit for
 * bit, as {@code (float) m * k + (float) (1 - m) * q} in Java. Every array of the encoder is followed,
 * buffers such as batch-norm running statistics included. A momentum tower's weights are frozen and never in
 * the optimiser: this update is the only thing that changes them. They are saved in checkpoints as every
 * tower's are.
 */
final class MomentumTowers {

    /** One momentum tower: its arrays and its tower's, in the same order. */
    private record Pairing(String tower, List<NDArray> momentum, List<NDArray> online, float m, float oneMinusM) {}

    private final List<Pairing> pairings;

    private MomentumTowers(List<Pairing> pairings) {
        this.pairings = pairings;
    }

    /** Pairs each momentum tower's initialised parameters with its tower's, by name and shape. */
    static MomentumTowers of(List<Tower> towers) {
        Map<String, Tower> byName = towers.stream().collect(Collectors.toMap(Tower::name, Function.identity()));
        List<Pairing> pairings = new ArrayList<>();
        for (Tower tower : towers) {
            if (!tower.isMomentum()) {
                continue;
            }
            Tower online = byName.get(tower.momentumOf());
            ParameterList mine = tower.encoder().block().getParameters();
            ParameterList theirs = online.encoder().block().getParameters();
            if (mine.size() != theirs.size()) {
                throw new IllegalStateException("momentum tower '" + tower.name() + "' has " + mine.size()
                        + " parameters, tower '" + online.name() + "' " + theirs.size() + "; their encoders differ");
            }
            List<NDArray> momentum = new ArrayList<>();
            List<NDArray> followed = new ArrayList<>();
            for (int i = 0; i < mine.size(); i++) {
                NDArray k = mine.get(i).getValue().getArray();
                NDArray q = theirs.get(i).getValue().getArray();
                if (!mine.get(i).getKey().equals(theirs.get(i).getKey()) || !k.getShape().equals(q.getShape())) {
                    throw new IllegalStateException("momentum tower '" + tower.name() + "' parameter " + mine.get(i).getKey()
                            + k.getShape() + " does not pair with tower '" + online.name() + "' parameter "
                            + theirs.get(i).getKey() + q.getShape() + "; their encoders differ");
                }
                momentum.add(k);
                followed.add(q);
            }
            pairings.add(new Pairing(tower.name(), momentum, followed, (float) tower.momentum(),
                    (float) (1 - tower.momentum())));
        }
        return new MomentumTowers(pairings);
    }

    boolean isEmpty() {
        return pairings.isEmpty();
    }

    /** theta_k = theta_q: a new run's momentum towers start where their towers start. */
    void copyOnline() {
        for (Pairing pairing : pairings) {
            for (int i = 0; i < pairing.momentum().size(); i++) {
                pairing.momentum().get(i).set(new NDIndex("..."), pairing.online().get(i));
            }
        }
    }

    /** theta_k = m * theta_k + (1 - m) * theta_q, in place, outside the gradient. */
    void update() {
        for (Pairing pairing : pairings) {
            for (int i = 0; i < pairing.momentum().size(); i++) {
                NDArray k = pairing.momentum().get(i);
                NDArray q = pairing.online().get(i);
                if (!k.getDataType().isFloating()) {
                    continue; // counters, if an encoder keeps any, are not averaged
                }
                try (NDArray step = q.mul(pairing.oneMinusM())) {
                    k.muli(pairing.m()).addi(step);
                }
            }
        }
    }
}
