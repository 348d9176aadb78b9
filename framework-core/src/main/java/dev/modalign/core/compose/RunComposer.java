package dev.modalign.core.compose;

import dev.modalign.api.Augmentation;
import dev.modalign.api.ComponentContext;
import dev.modalign.api.DatasetSource;
import dev.modalign.api.Encoder;
import dev.modalign.api.Evaluator;
import dev.modalign.api.GradientCombiner;
import dev.modalign.api.InputSpec;
import dev.modalign.api.InvalidParamException;
import dev.modalign.api.Loss;
import dev.modalign.api.Modality;
import dev.modalign.core.config.Binder;
import dev.modalign.core.config.ComponentRef;
import dev.modalign.core.config.ExperimentSpec;
import dev.modalign.core.config.ExperimentSpec.DatasetSpec;
import dev.modalign.core.config.ExperimentSpec.EvaluatorSpec;
import dev.modalign.core.config.ExperimentSpec.LossSpec;
import dev.modalign.core.config.ExperimentSpec.TowerSpec;
import dev.modalign.core.config.Suggestions;
import dev.modalign.core.config.YamlDocument;
import dev.modalign.core.plugin.ComponentKind;
import dev.modalign.core.plugin.LoadedPlugin;
import dev.modalign.core.plugin.PluginRegistry;
import dev.modalign.core.plugin.RegisteredComponent;
import dev.modalign.core.UserError;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;

/**
 * Turns an experiment file into a {@link RunPlan}: binds it, finds every named component among the
 * plugins, binds each component's parameters, creates the components and checks that they fit
 * together (tower names, augmentations for the tower's modality, encoders for its input). Every
 * problem is collected and reported at once, each at its place in the file.
 */
public final class RunComposer {

    private final PluginRegistry registry;
    private final Path cacheDir;

    @Inject
    public RunComposer(PluginRegistry registry, @Named("cacheDir") Path cacheDir) {
        this.registry = registry;
        this.cacheDir = cacheDir;
    }

    /** Reads and composes an experiment file; throws a {@link UserError} listing every problem. */
    public RunPlan compose(Path file) {
        return compose(file, YamlDocument.read(file));
    }

    /** Reads an experiment file, applies {@code --set} assignments, and composes it. */
    public RunPlan compose(Path file, List<String> assignments) {
        return compose(file, assignments, null);
    }

    /**
     * Reads an experiment file, applies {@code --set} assignments, and composes it with relative paths
     * resolved against {@code baseDir} (null: the file's directory), as a re-run of a recorded run needs.
     */
    public RunPlan compose(Path file, List<String> assignments, Path baseDir) {
        registry.requireNoConflicts();
        Node root = dev.modalign.core.config.Overrides.apply(YamlDocument.read(file), assignments);
        return new Composition(file, root, baseDir).build();
    }

    /** Composes an already parsed experiment (a sweep's trial, say). */
    public RunPlan compose(Path file, Node root) {
        registry.requireNoConflicts();
        return new Composition(file, root, null).build();
    }

    /** The state of one composition: its binder (which collects the problems) and what is made so far. */
    private final class Composition {
        private final Path file;
        private final Node root;
        private final Binder binder;
        private final Path baseDir;
        private final Set<LoadedPlugin> plugins = new LinkedHashSet<>();
        private long seed;

        Composition(Path file, Node root, Path baseDir) {
            this.file = file;
            this.root = root;
            this.binder = new Binder(file.toString());
            Path parent = file.toAbsolutePath().getParent();
            this.baseDir = baseDir != null ? baseDir : parent == null ? Path.of(".").toAbsolutePath() : parent;
        }

        RunPlan build() {
            if (!(root instanceof MappingNode mapping)) {
                binder.problem(root, "", null, "an experiment is a mapping of keys (name, data, towers, losses, ...)");
                binder.throwIfProblems();
                throw new IllegalStateException();
            }
            ExperimentSpec spec = binder.bindRecord(mapping, ExperimentSpec.class, "", null);
            if (spec == null) {
                // The file's own keys have problems; still check every component block, so one pass shows all.
                checkComponents(mapping);
                binder.throwIfProblems();
            }
            seed = spec.seed();
            Map<String, Object> resolved = new LinkedHashMap<>();
            resolved.put("name", spec.name());
            resolved.put("seed", spec.seed());

            Map<String, Object> resolvedData = new LinkedHashMap<>();
            RunPlan.Data train = data(spec.data().train(), "data.train", resolvedData, "train", spec);
            RunPlan.Data eval = spec.data().eval() == null ? null
                    : data(spec.data().eval(), "data.eval", resolvedData, "eval", spec);
            resolved.put("data", resolvedData);

            List<Tower> towers = towers(spec, resolved);
            Map<String, Integer> embedDims = new LinkedHashMap<>();
            towers.forEach(t -> embedDims.put(t.name(), t.encoder().embedDim()));

            List<RunPlan.WeightedLoss> losses = losses(spec, embedDims, resolved);
            List<RunPlan.NamedEvaluator> evaluators = evaluators(spec, embedDims, resolved, eval != null);
            Map<String, Object> resolvedTrain = Resolved.of(spec.train());
            GradientCombiner gradient = null;
            if (spec.train().gradient() != null) {
                // Only when set: a run without a policy resolves (and records its parameters) as before.
                Map<String, Object> resolvedGradient = new LinkedHashMap<>();
                gradient = create(ComponentKind.GRADIENT_COMBINER, spec.train().gradient(),
                        context(losses.stream().flatMap(l -> l.towers().stream()).distinct().toList(), embedDims, null),
                        resolvedGradient);
                resolvedTrain.put("gradient", resolvedGradient);
            }
            resolved.put("train", resolvedTrain);
            resolved.put("tracking", Resolved.of(spec.tracking()));
            binder.throwIfProblems();
            return new RunPlan(file, spec, resolved, towers, losses, evaluators, train, eval, List.copyOf(plugins), gradient);
        }

        /** Finds each component block in the raw file and checks its name and parameters, without creating it. */
        private void checkComponents(MappingNode root) {
            Node towers = valueOf(root, "towers");
            if (towers instanceof MappingNode towerMap) {
                for (NodeTuple tower : towerMap.getValue()) {
                    String name = ((ScalarNode) tower.getKeyNode()).getValue();
                    checkComponent(ComponentKind.MODALITY, valueOf(tower.getValueNode(), "modality"), "towers." + name + ".modality");
                    checkComponent(ComponentKind.ENCODER, valueOf(tower.getValueNode(), "encoder"), "towers." + name + ".encoder");
                }
            }
            checkList(ComponentKind.LOSS, valueOf(root, "losses"), "losses");
            checkList(ComponentKind.EVALUATOR, valueOf(root, "evaluate"), "evaluate");
            Node gradient = valueOf(valueOf(root, "train"), "gradient");
            if (gradient != null) {
                checkComponent(ComponentKind.GRADIENT_COMBINER, gradient, "train.gradient");
            }
            if (valueOf(root, "augment") instanceof MappingNode augment) {
                augment.getValue().forEach(t -> checkList(ComponentKind.AUGMENTATION, t.getValueNode(),
                        "augment." + ((ScalarNode) t.getKeyNode()).getValue()));
            }
        }

        private void checkList(ComponentKind kind, Node node, String path) {
            if (node instanceof org.yaml.snakeyaml.nodes.SequenceNode sequence) {
                for (int i = 0; i < sequence.getValue().size(); i++) {
                    checkComponent(kind, sequence.getValue().get(i), path + "[" + i + "]");
                }
            }
        }

        private void checkComponent(ComponentKind kind, Node node, String path) {
            String type = node instanceof ScalarNode scalar ? scalar.getValue()
                    : valueOf(node, "type") instanceof ScalarNode scalar ? scalar.getValue() : null;
            if (type == null) {
                return;
            }
            RegisteredComponent component = registry.find(kind, type).orElse(null);
            if (component == null) {
                binder.problem(node, path, null, registry.unknown(kind, type));
            } else if (node instanceof MappingNode mapping) {
                List<NodeTuple> params = new ArrayList<>(mapping.getValue());
                params.removeIf(t -> List.of("type", "towers", "weight").contains(((ScalarNode) t.getKeyNode()).getValue()));
                binder.bindRecord(new MappingNode(mapping.getTag(), true, params, mapping.getStartMark(), mapping.getEndMark(),
                        mapping.getFlowStyle()), component.factory().paramsType(), path, type);
            }
        }

        private RunPlan.Data data(DatasetSpec data, String path, Map<String, Object> resolvedData, String split,
                ExperimentSpec spec) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("source", data.source().type());
            DatasetSource source = create(ComponentKind.DATASET_SOURCE, data.source(), context(List.of(), Map.of(), null), entry);
            entry.remove("type");
            if (!data.fields().isEmpty()) {
                entry.put("fields", data.fields());
            }
            if (data.label() != null) {
                entry.put("label", data.label());
            }
            for (String tower : data.fields().keySet()) {
                if (!spec.towers().containsKey(tower)) {
                    binder.problem(keyNode(data.source().node(), "fields"), path + ".fields." + tower, null,
                            "no tower '" + tower + "'" + towerHint(tower, spec));
                }
            }
            if (!data.split().equals("all")) {
                entry.put("split", data.split());
                entry.put("split_fractions", data.splitFractions());
                entry.put("split_seed", data.splitSeed());
            }
            resolvedData.put(split, entry);
            if (source != null) {
                source = splitOf(source, data, path);
            }
            return source == null ? null : new RunPlan.Data(source, data.label(), data.fields());
        }

        /** The source, or the part of it that {@code split} names. */
        private DatasetSource splitOf(DatasetSource source, DatasetSpec data, String path) {
            try {
                Split chosen = Split.of(data.split(), data.splitFractions(), data.splitSeed());
                return chosen.isAll() ? source : SplitSource.of(source, chosen);
            } catch (dev.modalign.api.InvalidParamException e) {
                binder.problem(keyNode(data.source().node(), e.key()), path + "." + e.key(), null, e.getMessage());
                return null;
            } catch (dev.modalign.api.DataException e) {
                binder.problem(data.source().node(), path, data.source().type(), e.getMessage());
                return null;
            }
        }

        private List<Tower> towers(ExperimentSpec spec, Map<String, Object> resolved) {
            List<Tower> towers = new ArrayList<>();
            Map<String, Object> resolvedTowers = new LinkedHashMap<>();
            Map<String, Object> resolvedAugment = new LinkedHashMap<>();
            Map<String, String> fields = spec.data().train().fields();
            for (String name : spec.augment().keySet()) {
                if (!spec.towers().containsKey(name)) {
                    binder.problem(root, "augment." + name, null, "no tower '" + name + "'" + towerHint(name, spec));
                }
            }
            for (Map.Entry<String, TowerSpec> entry : spec.towers().entrySet()) {
                String name = entry.getKey();
                TowerSpec towerSpec = entry.getValue();
                Map<String, Object> resolvedTower = new LinkedHashMap<>();
                Map<String, Object> resolvedModality = new LinkedHashMap<>();
                Modality<?> modality = create(ComponentKind.MODALITY, towerSpec.modality(),
                        context(List.of(name), Map.of(), null), resolvedModality);
                resolvedTower.put("modality", resolvedModality);
                Encoder encoder = null;
                if (modality != null) {
                    Map<String, Object> resolvedEncoder = new LinkedHashMap<>();
                    encoder = create(ComponentKind.ENCODER, towerSpec.encoder(),
                            context(List.of(name), Map.of(), modality.spec()), resolvedEncoder);
                    resolvedTower.put("encoder", resolvedEncoder);
                }
                boolean torchScript = towerSpec.initFrom() != null
                        && towerSpec.initFrom().trim().startsWith(TorchScriptEncoder.PREFIX);
                if (encoder != null && torchScript) {
                    // The module is the tower's encoder; the declared encoder states the embedding size it must return.
                    Path module = baseDir.resolve(towerSpec.initFrom().trim().substring(TorchScriptEncoder.PREFIX.length()))
                            .normalize();
                    if (!java.nio.file.Files.isRegularFile(module)) {
                        binder.problem(keyNode(keyNode(keyNode(root, "towers"), name), "init_from"), "towers." + name
                                + ".init_from", null, "no TorchScript file " + module + "; give a module saved with"
                                + " torch.jit.script(module).save(path), relative to the experiment file");
                    }
                    encoder = new TorchScriptEncoder(module, name, encoder);
                }
                resolvedTower.put("frozen", towerSpec.frozen());
                resolvedTower.put("init_from", towerSpec.initFrom());
                if (towerSpec.momentumOf() != null) {
                    // Only where used, so that the resolved configuration of every other run stays as it was.
                    resolvedTower.put("momentum_of", towerSpec.momentumOf());
                    resolvedTower.put("momentum", towerSpec.momentum());
                }
                List<Augmentation<?>> augmentations = new ArrayList<>();
                List<Object> resolvedAugmentations = new ArrayList<>();
                for (ComponentRef ref : spec.augment().getOrDefault(name, List.of())) {
                    Map<String, Object> resolvedAugmentation = new LinkedHashMap<>();
                    // The modality's spec tells an augmentation e.g. which token ids are special.
                    Augmentation<?> augmentation = create(ComponentKind.AUGMENTATION, ref,
                            context(List.of(name), Map.of(), modality == null ? null : modality.spec()), resolvedAugmentation);
                    if (augmentation != null && modality != null
                            && !augmentation.exampleType().equals(modality.exampleType())) {
                        binder.problem(ref.node(), ref.path(), ref.type(), "augments " + augmentation.exampleType().getSimpleName()
                                + " but tower '" + name + "' has modality '" + towerSpec.modality().type() + "' whose examples are "
                                + modality.exampleType().getSimpleName() + "; move it to a tower of that kind");
                    }
                    augmentations.add(augmentation);
                    resolvedAugmentations.add(resolvedAugmentation);
                }
                if (!resolvedAugmentations.isEmpty()) {
                    resolvedAugment.put(name, resolvedAugmentations);
                }
                resolvedTowers.put(name, resolvedTower);
                if (modality != null && encoder != null) {
                    String momentumOf = towerSpec.momentumOf();
                    // A momentum copy reads its tower's field (another view of the same record) unless told otherwise.
                    String field = fields.getOrDefault(name, momentumOf == null ? name : fields.getOrDefault(momentumOf, momentumOf));
                    towers.add(new Tower(name, field, modality, List.copyOf(augmentations), encoder,
                            towerSpec.frozen() || momentumOf != null || torchScript, towerSpec.initFrom(), momentumOf,
                            towerSpec.momentum()));
                }
            }
            checkMomentumTowers(spec, resolvedTowers);
            resolved.put("towers", resolvedTowers);
            resolved.put("augment", resolvedAugment);
            return towers;
        }

        /**
         * A momentum tower names a tower of its own kind (not itself a momentum copy) whose encoder it copies: the same
         * modality and encoder, type and parameters, so that the update can pair their weights one to one.
         */
        private void checkMomentumTowers(ExperimentSpec spec, Map<String, Object> resolvedTowers) {
            for (Map.Entry<String, TowerSpec> entry : spec.towers().entrySet()) {
                TowerSpec towerSpec = entry.getValue();
                String online = towerSpec.momentumOf();
                if (online == null) {
                    continue;
                }
                String path = "towers." + entry.getKey() + ".momentum_of";
                Node at = keyNode(keyNode(keyNode(root, "towers"), entry.getKey()), "momentum_of");
                TowerSpec onlineSpec = spec.towers().get(online);
                if (onlineSpec == null || online.equals(entry.getKey())) {
                    binder.problem(at, path, null, "no other tower '" + online + "' to be the momentum copy of"
                            + towerHint(online, spec));
                } else if (onlineSpec.momentumOf() != null) {
                    binder.problem(at, path, null, "tower '" + online + "' is itself the momentum copy of '"
                            + onlineSpec.momentumOf() + "'; name the tower that is trained, '" + onlineSpec.momentumOf() + "'");
                } else if (towerSpec.initFrom() != null) {
                    binder.problem(at, path, null, "a momentum tower starts from its tower's weights; drop init_from here"
                            + " (give it to tower '" + online + "')");
                } else {
                    Object mine = ((Map<?, ?>) resolvedTowers.get(entry.getKey())).get("encoder");
                    Object theirs = ((Map<?, ?>) resolvedTowers.get(online)).get("encoder");
                    Object myModality = ((Map<?, ?>) resolvedTowers.get(entry.getKey())).get("modality");
                    Object theirModality = ((Map<?, ?>) resolvedTowers.get(online)).get("modality");
                    if (mine != null && theirs != null && !mine.equals(theirs)) {
                        binder.problem(at, path, null, "the momentum copy must have the encoder of tower '" + online
                                + "', found " + mine + " against " + theirs + "; give both the same encoder block");
                    } else if (myModality != null && theirModality != null && !myModality.equals(theirModality)) {
                        binder.problem(at, path, null, "the momentum copy must have the modality of tower '" + online
                                + "', found " + myModality + " against " + theirModality + "; give both the same modality");
                    }
                }
            }
        }

        private List<RunPlan.WeightedLoss> losses(ExperimentSpec spec, Map<String, Integer> embedDims,
                Map<String, Object> resolved) {
            List<RunPlan.WeightedLoss> losses = new ArrayList<>();
            List<Object> resolvedLosses = new ArrayList<>();
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (int i = 0; i < spec.losses().size(); i++) {
                LossSpec lossSpec = spec.losses().get(i);
                String path = "losses[" + i + "]";
                boolean towersOk = checkTowers(lossSpec.towers(), lossSpec.loss().node(), path, lossSpec.loss().type(), spec);
                Map<String, Object> resolvedLoss = new LinkedHashMap<>();
                Loss loss = towersOk ? create(ComponentKind.LOSS, lossSpec.loss(), context(lossSpec.towers(), embedDims, null),
                        resolvedLoss) : null;
                resolvedLoss.put("towers", lossSpec.towers());
                resolvedLoss.put("weight", lossSpec.weight());
                resolvedLosses.add(resolvedLoss);
                int count = seen.merge(lossSpec.loss().type(), 1, Integer::sum);
                String name = count == 1 ? lossSpec.loss().type() : lossSpec.loss().type() + "_" + count;
                if (loss != null) {
                    losses.add(new RunPlan.WeightedLoss(name, loss, lossSpec.weight(), lossSpec.towers()));
                }
            }
            resolved.put("losses", resolvedLosses);
            return losses;
        }

        private List<RunPlan.NamedEvaluator> evaluators(ExperimentSpec spec, Map<String, Integer> embedDims,
                Map<String, Object> resolved, boolean hasEvalData) {
            List<RunPlan.NamedEvaluator> evaluators = new ArrayList<>();
            List<Object> resolvedEvaluators = new ArrayList<>();
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (int i = 0; i < spec.evaluate().size(); i++) {
                EvaluatorSpec evaluatorSpec = spec.evaluate().get(i);
                String path = "evaluate[" + i + "]";
                ComponentRef ref = evaluatorSpec.evaluator();
                if (!hasEvalData && i == 0) {
                    binder.problem(ref.node(), path, ref.type(), "evaluators need held-out data: add data.eval "
                            + "(e.g. the same source with another seed or file)");
                }
                boolean towersOk = checkTowers(evaluatorSpec.towers(), ref.node(), path, ref.type(), spec);
                Map<String, Object> resolvedEvaluator = new LinkedHashMap<>();
                Evaluator evaluator = towersOk
                        ? create(ComponentKind.EVALUATOR, ref, context(evaluatorSpec.towers(), embedDims, null), resolvedEvaluator)
                        : null;
                resolvedEvaluator.put("towers", evaluatorSpec.towers());
                resolvedEvaluator.put("every", evaluatorSpec.every());
                resolvedEvaluators.add(resolvedEvaluator);
                int count = seen.merge(ref.type(), 1, Integer::sum);
                if (evaluator != null) {
                    evaluators.add(new RunPlan.NamedEvaluator(count == 1 ? ref.type() : ref.type() + "_" + count, evaluator,
                            evaluatorSpec.towers(), evaluatorSpec.every()));
                }
            }
            resolved.put("evaluate", resolvedEvaluators);
            return evaluators;
        }

        private boolean checkTowers(List<String> names, Node node, String path, String component, ExperimentSpec spec) {
            boolean ok = true;
            for (String tower : names) {
                if (!spec.towers().containsKey(tower)) {
                    binder.problem(keyNode(node, "towers"), path + ".towers", component, "no tower '" + tower + "'"
                            + towerHint(tower, spec));
                    ok = false;
                }
            }
            return ok;
        }

        private String towerHint(String name, ExperimentSpec spec) {
            String hint = Suggestions.didYouMean(name, spec.towers().keySet());
            return hint.isEmpty() ? "; towers: " + String.join(", ", spec.towers().keySet()) : hint;
        }

        /**
         * Finds a component, binds its parameters and creates it; on any problem records it at its place
         * in the file and returns null. {@code resolved} receives the type and every parameter's value.
         */
        private <T> T create(ComponentKind kind, ComponentRef ref, ComponentContext context, Map<String, Object> resolved) {
            resolved.put("type", ref.type());
            RegisteredComponent component = registry.find(kind, ref.type()).orElse(null);
            if (component == null) {
                binder.problem(ref.node(), ref.path(), null, registry.unknown(kind, ref.type()));
                return null;
            }
            Record params = binder.bindRecord(ref.params(), component.factory().paramsType(), ref.path(), ref.type());
            if (params == null) {
                return null;
            }
            resolved.putAll(Resolved.of(params));
            try {
                T created = registry.create(component, params, context);
                plugins.add(component.plugin());
                return created;
            } catch (InvalidParamException e) {
                String key = e.key() == null ? "" : e.key();
                Node at = key.equals("towers") ? keyNode(ref.node(), "towers") : keyNode(ref.params(), key.split("[.\\[]")[0]);
                binder.problem(at, key.isEmpty() ? ref.path() : ref.path() + "." + key, ref.type(), e.getMessage());
            } catch (UserError e) {
                throw e;
            } catch (RuntimeException | LinkageError e) {
                binder.problem(ref.node(), ref.path(), ref.type(), "plugin '" + component.plugin().name()
                        + "' failed to create it: " + e);
            }
            return null;
        }

        private ComponentContext context(List<String> towers, Map<String, Integer> embedDims, InputSpec input) {
            return new RunContext(seed, List.copyOf(towers), Map.copyOf(embedDims), input, cacheDir, baseDir);
        }
    }

    /** The value node of {@code key} in a mapping, or null. */
    static Node valueOf(Node node, String key) {
        Node value = keyNode(node, key);
        return value == node ? null : value;
    }

    /** The value node of {@code key} in a mapping, or the node itself when there is none. */
    static Node keyNode(Node node, String key) {
        if (node instanceof MappingNode mapping) {
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode scalar && scalar.getValue().equals(key)) {
                    return tuple.getValueNode();
                }
            }
        }
        return node;
    }
}
