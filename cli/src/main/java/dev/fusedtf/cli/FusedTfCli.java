package dev.fusedtf.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code FusedTfCli} is the {@code fusedtf} top command; it only groups the subcommands.
 *
 * <pre>{@code
 * int exit = new CommandLine(new FusedTfCli()).execute("verify", "/models/resnet", "--json");
 * }</pre>
 *
 * <p>Exit codes: 0 success, 1 a check failed, 2 bad usage or a model that cannot be loaded.
 */
@Command(
    name = "fusedtf",
    mixinStandardHelpOptions = true,
    version = "fusedtf 0.1.0",
    description = "Folds BatchNorm into the convolutions of TensorFlow SavedModels, checks and serves the result.",
    subcommands = {InspectCommand.class, VerifyCommand.class, FuseCommand.class, BenchCommand.class, ProfileCommand.class,
        DemoCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:success",
        "1:the fused model did not match the original (verify, fuse, demo)",
        "2:bad usage, or the model could not be loaded"})
public final class FusedTfCli {

  /** Runs the command line and exits with its code. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new FusedTfCli()).execute(args));
  }
}
