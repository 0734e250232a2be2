package org.spineauth.hapi;

import ca.uhn.fhir.jpa.packages.IPackageInstallerSvc;
import ca.uhn.fhir.jpa.packages.PackageInstallationSpec;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.hl7.fhir.utilities.npm.NpmPackage;

/**
 * Installs the IG packages ({@code *.tgz}) found in the given folders from file, never from the network: each is
 * stored in HAPI's package cache and its StructureDefinitions installed as resources, where {@code $validate} finds
 * the profiles (HAPI 8.8's validator did not resolve profiles from packages installed STORE_ONLY: measured).
 */
final class IgInstaller {
	private IgInstaller() {}

	/** @return "name#version" of every package installed */
	static List<String> installAll(IPackageInstallerSvc installer, List<Path> folders) throws IOException {
		List<String> installed = new ArrayList<>();
		for (Path folder : folders) {
			List<Path> packages;
			try (Stream<Path> files = Files.list(folder)) {
				packages = files.filter(file -> file.toString().endsWith(".tgz")).sorted().toList();
			}
			for (Path file : packages) {
				byte[] contents = Files.readAllBytes(file);
				NpmPackage npm = NpmPackage.fromPackage(new ByteArrayInputStream(contents));
				installer.install(new PackageInstallationSpec()
						.setName(npm.name())
						.setVersion(npm.version())
						.setPackageContents(contents)
						.setFetchDependencies(false)
						.setInstallMode(PackageInstallationSpec.InstallModeEnum.STORE_AND_INSTALL)
						.addInstallResourceTypes("StructureDefinition"));
				installed.add(npm.name() + "#" + npm.version());
			}
		}
		return installed;
	}
}
