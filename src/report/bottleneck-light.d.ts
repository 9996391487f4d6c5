// bottleneck/light.js is the build the throttling plugin uses (no Redis clustering); its types are the package's.
declare module 'bottleneck/light.js' {
  import Bottleneck from 'bottleneck';
  export default Bottleneck;
}
