/// The version every report, fortio file and `meshbench --version` carries: one constant, so they cannot disagree.
public enum LabVersion {
    public static let current = "0.1.0"
}
